-- Seed 002, cause 4: "Machine was re-built." The rebuilt machine has a new
-- hardware ID and an empty store, so it is issued a second CAL; "the first
-- one will never be renewed because the certificate was lost when the client
-- was rebuilt. After 89 days (the randomly selected duration of the first
-- certificate), the first RDS CAL is returned to the pool by the license
-- server." Resolution: wait, or revoke the old CAL.
SET CLOCK '2026-01-05 09:00:00';
SET SEED 3;

CREATE SERVER ls1 PRODUCT WS2022;
ACTIVATE SERVER ls1;
INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL DEVICE COUNT 5;
CREATE HOST rdsh1 PRODUCT WS2022 MODE DEVICE;
CREATE DEVICE pc1;
CREATE DEVICE pc2;

-- pc1 and pc2 get their full CALs.
CONNECT pc1 AS alice TO rdsh1;
CONNECT pc1 AS alice TO rdsh1;
CONNECT pc2 AS bob TO rdsh1;
CONNECT pc2 AS bob TO rdsh1;

-- A catastrophe: pc1's operating system is reinstalled. New HWID, empty store.
ADVANCE 10 DAYS;
REIMAGE DEVICE pc1;
SHOW DEVICE pc1;

-- It starts over: a temporary CAL, then a second full CAL.
CONNECT pc1 AS alice TO rdsh1;
CONNECT pc1 AS alice TO rdsh1;
SELECT id, computer, hwid, status, expires FROM licenses WHERE kind = 'permanent';
SELECT id, total, issued, available FROM keypacks WHERE type = 'retail';

-- The resolution: revoke the old CAL, license 2, whose HWID pc1 no longer
-- has (at most 20% of the installed CALs, at least 1, may be revoked at
-- once). Its CAL is back in the pool at once; the revoke counts against the
-- limit until the license's original expiry.
REVOKE LICENSE 2;
SELECT id, computer, status, revoked FROM licenses WHERE kind = 'permanent';

-- Without the revoke it would have come back by itself at its expiry.
SET CLOCK '2026-03-02 09:00:00';
SELECT id, computer, status, expires FROM licenses WHERE kind = 'permanent';

-- What it cost: two CALs for pc1 for ten days; one after the revoke.
SELECT status, COUNT(*) FROM licenses GROUP BY status;
SELECT id, total, issued, available FROM keypacks WHERE type = 'retail';
CHECK;
