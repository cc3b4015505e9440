-- A tenant's policy: the fields the operator set over the server's defaults, as JSON; NULL for none.
ALTER TABLE tenants ADD COLUMN policy TEXT;
