-- Seed 000, figure 2: the per-device CAL allocation process, in its three
-- walkthroughs: a client with no CAL, with a temporary CAL, with a full CAL.
SET CLOCK '2026-01-05 09:00:00';
SET SEED 1;

CREATE SERVER ls1 PRODUCT WS2022;
ACTIVATE SERVER ls1;
INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL DEVICE COUNT 10;
CREATE HOST rdsh1 PRODUCT WS2022 MODE DEVICE;
CREATE DEVICE pc1;
SHOW HOST rdsh1;

-- Client with no existing CAL. The host discovers ls1 (which ends its grace
-- period), asks for a temporary CAL with the client's hardware ID, client
-- name and user name; the client stores it in LICENSE000. The successful
-- logon has the license server mark it validated.
CONNECT pc1 AS alice TO rdsh1;
SELECT id, kind, status, hwid, computer, user, expires, validated FROM licenses;
SHOW DEVICE pc1;

-- Client with an existing temporary CAL. It is validated and ls1 is
-- activated with full CALs available: a full CAL with a random expiration of
-- 52 to 89 days, recorded with hardware ID, client and user names; the pool
-- goes down by 1.
ADVANCE 1 DAYS;
CONNECT pc1 AS alice TO rdsh1;
SELECT id, kind, status, issued, expires FROM licenses;
SELECT id, total, issued, available FROM keypacks WHERE type = 'retail';

-- Client with an existing full CAL, not due to expire within 7 days: the
-- connection is accepted, no license server contacted (even if it is down).
SET SERVER ls1 OFFLINE;
ADVANCE 30 DAYS;
CONNECT pc1 AS alice TO rdsh1;

-- Within 7 days of expiry, but the issuing license server cannot be
-- contacted: "the client may connect until the CAL expires".
SET CLOCK '2026-02-22 09:00:00';
CONNECT pc1 AS alice TO rdsh1;

-- The issuing license server is back: the CAL is renewed for another random
-- 52 to 89 days; no new CAL is taken.
SET SERVER ls1 ONLINE;
CONNECT pc1 AS alice TO rdsh1;

-- The CAL has already expired: a new CAL is issued. A client that has held a
-- CAL never gets a temporary one again.
SET CLOCK '2026-06-01 09:00:00';
SELECT id, status, expires FROM licenses WHERE kind = 'permanent';
CONNECT pc1 AS alice TO rdsh1;

-- What it cost: one CAL in use at a time.
SELECT status, COUNT(*) FROM licenses GROUP BY status;
SELECT id, total, issued, available FROM keypacks WHERE type = 'retail';
CHECK;
