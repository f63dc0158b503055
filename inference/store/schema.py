"""The store's schema as forward migrations: migration N takes a store from version N-1 to N.

``PRAGMA user_version`` holds the version. Append a migration to change the schema; never edit one
that has shipped: stores in the field were built with it.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: images, their studies, results per weights, reviews, the append-only audit trail.
    """
    CREATE TABLE studies (
        study_uid   TEXT PRIMARY KEY,
        arrived     TEXT NOT NULL,              -- ISO 8601 UTC, first time any image of it was recorded
        archived    INTEGER NOT NULL DEFAULT 0  -- 1: kept, but left out of the worklist
    );
    CREATE TABLE images (
        image_uid      TEXT PRIMARY KEY,        -- SOP Instance UID, or derived from the file's content
        study_uid      TEXT NOT NULL REFERENCES studies(study_uid) ON DELETE CASCADE,
        source         TEXT NOT NULL,           -- where it came from: 'file', later a PACS
        path           BLOB NOT NULL,           -- os.fsencode(path): any file name, losslessly
        arrived        TEXT NOT NULL,
        scan_status    TEXT NOT NULL,           -- 'scored' (eligible), 'not_scored' or 'error'
        scan_reason    TEXT NOT NULL DEFAULT '',
        patient_id     TEXT NOT NULL DEFAULT '',
        patient_name   TEXT NOT NULL DEFAULT '',  -- for display only: never in the audit or logs
        accession      TEXT NOT NULL DEFAULT '',
        study_date     TEXT NOT NULL DEFAULT '',
        study_time     TEXT NOT NULL DEFAULT '',
        modality       TEXT NOT NULL DEFAULT '',
        view_position  TEXT NOT NULL DEFAULT '',
        body_part      TEXT NOT NULL DEFAULT '',
        photometric    TEXT NOT NULL DEFAULT '',
        rows           INTEGER NOT NULL DEFAULT 0,
        columns        INTEGER NOT NULL DEFAULT 0,
        window_center  REAL,
        window_width   REAL
    );
    CREATE INDEX images_by_study ON images(study_uid);
    CREATE TABLE results (
        image_uid      TEXT NOT NULL REFERENCES images(image_uid) ON DELETE CASCADE,
        weights_sha256 TEXT NOT NULL,
        status         TEXT NOT NULL,           -- 'scored' or 'error' (the image could not be read)
        reason         TEXT NOT NULL DEFAULT '',
        probabilities  TEXT NOT NULL DEFAULT '{}',  -- JSON: every output of the network
        warnings       TEXT NOT NULL DEFAULT '[]',  -- JSON list: the readers' warnings
        preprocessing  TEXT NOT NULL DEFAULT '',
        precision      TEXT NOT NULL DEFAULT '',
        device         TEXT NOT NULL DEFAULT '',
        scored_at      TEXT NOT NULL,
        PRIMARY KEY (image_uid, weights_sha256)
    ) WITHOUT ROWID;
    CREATE TABLE reviews (
        study_uid  TEXT PRIMARY KEY REFERENCES studies(study_uid) ON DELETE CASCADE,
        outcome    TEXT NOT NULL CHECK (outcome IN ('accepted', 'rejected', 'reviewed')),
        note       TEXT NOT NULL DEFAULT '',
        user       TEXT NOT NULL,
        time       TEXT NOT NULL
    );
    CREATE TABLE audit (
        id             INTEGER PRIMARY KEY AUTOINCREMENT,
        time           TEXT NOT NULL,
        user           TEXT NOT NULL,
        action         TEXT NOT NULL,
        study_uid      TEXT NOT NULL DEFAULT '',
        weights_sha256 TEXT NOT NULL DEFAULT '',
        detail         TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TRIGGER audit_is_append_only_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
    CREATE TRIGGER audit_is_append_only_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
    """,
    # similar cases: one embedding per (image, weights); `seq` grows with every write, so the
    # similar-case index catches up from the last seq it has seen. Patients' studies by patient ID.
    """
    CREATE TABLE embeddings (
        seq            INTEGER PRIMARY KEY AUTOINCREMENT,
        image_uid      TEXT NOT NULL REFERENCES images(image_uid) ON DELETE CASCADE,
        weights_sha256 TEXT NOT NULL,
        vector         BLOB NOT NULL,           -- float32 little-endian, L2-normalised
        UNIQUE (image_uid, weights_sha256)
    );
    CREATE INDEX embeddings_by_weights ON embeddings(weights_sha256, seq);
    CREATE INDEX images_by_patient ON images(patient_id);
    """,
    # PACS link: the UIDs of the SR and Secondary Capture made per (study, weights), so re-sending
    # re-uses them and a PACS never holds two copies; and every object sent, to where.
    """
    CREATE TABLE pacs_objects (
        study_uid      TEXT NOT NULL REFERENCES studies(study_uid) ON DELETE CASCADE,
        weights_sha256 TEXT NOT NULL,
        kind           TEXT NOT NULL CHECK (kind IN ('sr', 'sc')),
        series_uid     TEXT NOT NULL,
        sop_uid        TEXT NOT NULL UNIQUE,
        PRIMARY KEY (study_uid, weights_sha256, kind)
    ) WITHOUT ROWID;
    CREATE TABLE pacs_sent (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        sop_uid      TEXT NOT NULL REFERENCES pacs_objects(sop_uid) ON DELETE CASCADE,
        destination  TEXT NOT NULL,              -- the node, without any user name or password
        time         TEXT NOT NULL,
        user         TEXT NOT NULL
    );
    """,
    # safety gate: each result's gate score (distance to the training images' features / the card's
    # threshold; above 1 the image is 'not_scored' and its probabilities are kept but never ranked),
    # and whether a reader scored it anyway.
    """
    ALTER TABLE results ADD COLUMN gate_score REAL;
    ALTER TABLE results ADD COLUMN gate_overridden INTEGER NOT NULL DEFAULT 0;
    """,
    # reproducible results: each result keeps the fingerprint of what was scored (pixel data and the
    # header that changes the picture) and its precision, and is reused only for the same of both; an
    # image's current fingerprint is that of its last scan. Results of other content or precision are
    # kept beside it (one row per image, weights, fingerprint and precision; ``seq``: newest last).
    # Results written before this version have no fingerprint: they are scored again on the next scan.
    """
    ALTER TABLE images ADD COLUMN fingerprint TEXT NOT NULL DEFAULT '';
    CREATE TABLE results_by_content (
        seq             INTEGER PRIMARY KEY AUTOINCREMENT,
        image_uid       TEXT NOT NULL REFERENCES images(image_uid) ON DELETE CASCADE,
        weights_sha256  TEXT NOT NULL,
        fingerprint     TEXT NOT NULL DEFAULT '',
        precision       TEXT NOT NULL DEFAULT '',
        status          TEXT NOT NULL,
        reason          TEXT NOT NULL DEFAULT '',
        probabilities   TEXT NOT NULL DEFAULT '{}',
        warnings        TEXT NOT NULL DEFAULT '[]',
        preprocessing   TEXT NOT NULL DEFAULT '',
        device          TEXT NOT NULL DEFAULT '',
        scored_at       TEXT NOT NULL,
        gate_score      REAL,
        gate_overridden INTEGER NOT NULL DEFAULT 0,
        UNIQUE (image_uid, weights_sha256, fingerprint, precision)
    );
    INSERT INTO results_by_content (image_uid, weights_sha256, fingerprint, precision, status, reason,
        probabilities, warnings, preprocessing, device, scored_at, gate_score, gate_overridden)
        SELECT image_uid, weights_sha256, '', precision, status, reason, probabilities, warnings,
            preprocessing, device, scored_at, gate_score, gate_overridden
        FROM results ORDER BY scored_at;
    DROP TABLE results;
    ALTER TABLE results_by_content RENAME TO results;
    """,
    # bounded inbox and cache: when ``cxr-triage purge`` removed an image's received or retrieved file
    # (ISO 8601 UTC; '' while the file is kept). Its results, reviews and audit stay; receiving the
    # image again clears it.
    """
    ALTER TABLE images ADD COLUMN purged TEXT NOT NULL DEFAULT '';
    """,
)

VERSION = len(MIGRATIONS)
