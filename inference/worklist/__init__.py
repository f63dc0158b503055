"""The worklist: studies grouped from files, the reading order by risk, exports and de-identification."""
