"""The team store's schema on PostgreSQL, as forward migrations (``schema_version`` holds the version),
and its two group roles. Append a migration to change the schema; never edit one that has shipped; a
migration that adds a table grants it to the roles itself (grants name existing tables only).

The tables mirror the SQLite store's (:mod:`inference.store.schema`) at its latest version, with
``DOUBLE PRECISION`` for every probability (labels and values as two arrays, in the network's order),
and what only a shared store needs: claims, and the database's own word on who and when. Roles:
``cxr_service`` (listen, pull, batch) writes images and results and never reviews; ``cxr_reader``
reviews, claims and archives. Nobody, the owner included, may UPDATE, DELETE or TRUNCATE the audit.
"""

from __future__ import annotations

SERVICE_ROLE = "cxr_service"
READER_ROLE = "cxr_reader"
ROLES = {"service": SERVICE_ROLE, "reader": READER_ROLE}

MIGRATIONS: tuple[str, ...] = (
    # 1: the SQLite store's schema 6, claims, and the two roles with what each may do.
    """
    CREATE TABLE schema_version (version INTEGER NOT NULL);
    INSERT INTO schema_version VALUES (0);
    CREATE TABLE studies (
        study_uid   TEXT PRIMARY KEY,
        arrived     TEXT NOT NULL,
        archived    BOOLEAN NOT NULL DEFAULT false
    );
    -- seq: in commit order (given under the arrivals lock, held to the commit), so a reader that
    -- catches up from the last seq it saw never misses an image another writer committed later.
    CREATE TABLE images (
        image_uid      TEXT PRIMARY KEY,
        seq            BIGINT NOT NULL UNIQUE,
        study_uid      TEXT NOT NULL REFERENCES studies(study_uid) ON DELETE CASCADE,
        source         TEXT NOT NULL,
        path           BYTEA NOT NULL,
        arrived        TEXT NOT NULL,
        scan_status    TEXT NOT NULL,
        scan_reason    TEXT NOT NULL DEFAULT '',
        patient_id     TEXT NOT NULL DEFAULT '',
        patient_name   TEXT NOT NULL DEFAULT '',
        accession      TEXT NOT NULL DEFAULT '',
        study_date     TEXT NOT NULL DEFAULT '',
        study_time     TEXT NOT NULL DEFAULT '',
        modality       TEXT NOT NULL DEFAULT '',
        view_position  TEXT NOT NULL DEFAULT '',
        body_part      TEXT NOT NULL DEFAULT '',
        photometric    TEXT NOT NULL DEFAULT '',
        "rows"         INTEGER NOT NULL DEFAULT 0,
        "columns"      INTEGER NOT NULL DEFAULT 0,
        window_center  DOUBLE PRECISION,
        window_width   DOUBLE PRECISION,
        fingerprint    TEXT NOT NULL DEFAULT '',
        purged         TEXT NOT NULL DEFAULT ''
    );
    CREATE SEQUENCE image_seq OWNED BY images.seq;
    CREATE INDEX images_by_study ON images(study_uid);
    CREATE INDEX images_by_patient ON images(patient_id);
    CREATE TABLE results (
        seq             BIGSERIAL PRIMARY KEY,
        image_uid       TEXT NOT NULL REFERENCES images(image_uid) ON DELETE CASCADE,
        weights_sha256  TEXT NOT NULL,
        fingerprint     TEXT NOT NULL DEFAULT '',
        "precision"     TEXT NOT NULL DEFAULT '',
        status          TEXT NOT NULL,
        reason          TEXT NOT NULL DEFAULT '',
        labels          TEXT[] NOT NULL DEFAULT '{}',
        probabilities   DOUBLE PRECISION[] NOT NULL DEFAULT '{}',
        warnings        TEXT[] NOT NULL DEFAULT '{}',
        preprocessing   TEXT NOT NULL DEFAULT '',
        device          TEXT NOT NULL DEFAULT '',
        scored_at       TEXT NOT NULL,
        gate_score      DOUBLE PRECISION,
        gate_overridden BOOLEAN NOT NULL DEFAULT false,
        UNIQUE (image_uid, weights_sha256, fingerprint, "precision")
    );
    CREATE TABLE embeddings (
        image_uid      TEXT NOT NULL REFERENCES images(image_uid) ON DELETE CASCADE,
        weights_sha256 TEXT NOT NULL,
        seq            BIGINT NOT NULL UNIQUE,  -- in commit order, as images.seq
        vector         BYTEA NOT NULL,
        PRIMARY KEY (image_uid, weights_sha256)
    );
    CREATE SEQUENCE embedding_seq OWNED BY embeddings.seq;
    CREATE INDEX embeddings_by_weights ON embeddings(weights_sha256, seq);
    CREATE TABLE reviews (
        study_uid  TEXT PRIMARY KEY REFERENCES studies(study_uid) ON DELETE CASCADE,
        outcome    TEXT NOT NULL CHECK (outcome IN ('accepted', 'rejected', 'reviewed')),
        note       TEXT NOT NULL DEFAULT '',
        "user"     TEXT NOT NULL DEFAULT session_user,
        time       TIMESTAMPTZ NOT NULL DEFAULT now()
    );
    CREATE TABLE claims (
        study_uid  TEXT PRIMARY KEY REFERENCES studies(study_uid) ON DELETE CASCADE,
        holder     TEXT NOT NULL DEFAULT session_user,
        expires    TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE audit (
        id             BIGSERIAL PRIMARY KEY,
        time           TIMESTAMPTZ NOT NULL DEFAULT now(),
        "user"         TEXT NOT NULL DEFAULT session_user,
        action         TEXT NOT NULL,
        study_uid      TEXT NOT NULL DEFAULT '',
        weights_sha256 TEXT NOT NULL DEFAULT '',
        detail         TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE pacs_objects (
        study_uid      TEXT NOT NULL REFERENCES studies(study_uid) ON DELETE CASCADE,
        weights_sha256 TEXT NOT NULL,
        kind           TEXT NOT NULL CHECK (kind IN ('sr', 'sc')),
        series_uid     TEXT NOT NULL,
        sop_uid        TEXT NOT NULL UNIQUE,
        PRIMARY KEY (study_uid, weights_sha256, kind)
    );
    CREATE TABLE pacs_sent (
        id           BIGSERIAL PRIMARY KEY,
        sop_uid      TEXT NOT NULL REFERENCES pacs_objects(sop_uid) ON DELETE CASCADE,
        destination  TEXT NOT NULL,
        time         TEXT NOT NULL,
        "user"       TEXT NOT NULL DEFAULT session_user
    );
    -- who and when are the server's word: whatever a client sends is replaced.
    CREATE FUNCTION stamp_who_and_when() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW."user" := session_user;
        NEW.time := now();
        RETURN NEW;
    END $$;
    CREATE TRIGGER audit_stamped BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION stamp_who_and_when();
    CREATE TRIGGER review_stamped BEFORE INSERT OR UPDATE ON reviews
        FOR EACH ROW EXECUTE FUNCTION stamp_who_and_when();
    CREATE FUNCTION stamp_holder() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.holder := session_user;
        RETURN NEW;
    END $$;
    CREATE TRIGGER claim_stamped BEFORE INSERT OR UPDATE ON claims
        FOR EACH ROW EXECUTE FUNCTION stamp_holder();
    CREATE FUNCTION audit_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'the audit trail is append-only';
    END $$;
    CREATE TRIGGER audit_is_append_only_update BEFORE UPDATE OR DELETE ON audit
        FOR EACH ROW EXECUTE FUNCTION audit_is_append_only();
    CREATE TRIGGER audit_is_append_only_truncate BEFORE TRUNCATE ON audit
        FOR EACH STATEMENT EXECUTE FUNCTION audit_is_append_only();
    DO $$
    BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cxr_service') THEN
            CREATE ROLE cxr_service NOLOGIN;
        END IF;
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cxr_reader') THEN
            CREATE ROLE cxr_reader NOLOGIN;
        END IF;
    END $$;
    REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC;
    GRANT SELECT ON ALL TABLES IN SCHEMA public TO cxr_service, cxr_reader;
    GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO cxr_service, cxr_reader;
    GRANT INSERT (action, study_uid, weights_sha256, detail) ON audit TO cxr_service, cxr_reader;
    GRANT INSERT, UPDATE ON studies, images, results, embeddings TO cxr_service;
    GRANT INSERT ON pacs_objects, pacs_sent TO cxr_service, cxr_reader;
    GRANT INSERT, UPDATE, DELETE ON reviews, claims TO cxr_reader;
    GRANT UPDATE (archived) ON studies TO cxr_reader;
    GRANT UPDATE (status, gate_overridden) ON results TO cxr_reader;
    """,
)

VERSION = len(MIGRATIONS)
