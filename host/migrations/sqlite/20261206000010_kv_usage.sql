-- Each tenant's KV usage, kept by triggers in the transaction of every KV
-- write, so a quota check reads one row instead of scanning the tenant's
-- keys. A row is charged its key's bytes, its value's and 32
-- (kv::WRITE_OVERHEAD_BYTES), as the scan it replaces counted.
CREATE TABLE kv_usage (
    tenant TEXT    NOT NULL PRIMARY KEY,
    bytes  INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO kv_usage (tenant, bytes)
SELECT tenant, SUM(length(CAST(key AS BLOB)) + length(value) + 32) FROM kv GROUP BY tenant;

CREATE TRIGGER kv_usage_on_insert AFTER INSERT ON kv BEGIN
    INSERT INTO kv_usage (tenant, bytes)
    VALUES (NEW.tenant, length(CAST(NEW.key AS BLOB)) + length(NEW.value) + 32)
    ON CONFLICT (tenant) DO UPDATE SET bytes = bytes + excluded.bytes;
END;

-- Upserts that find their key update it, and fire this one.
CREATE TRIGGER kv_usage_on_update AFTER UPDATE OF value ON kv BEGIN
    UPDATE kv_usage SET bytes = bytes + length(NEW.value) - length(OLD.value)
    WHERE tenant = NEW.tenant;
END;

CREATE TRIGGER kv_usage_on_delete AFTER DELETE ON kv BEGIN
    UPDATE kv_usage SET bytes = bytes - (length(CAST(OLD.key AS BLOB)) + length(OLD.value) + 32)
    WHERE tenant = OLD.tenant;
END;
