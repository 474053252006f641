-- Seed 000, figure 1: the per-user CAL allocation process.
-- "The only thing checked is whether the Terminal Server can contact a
-- license server, and if so, it accepts the connection." The license server
-- tracks the user's CAL but "will never decrement the Per-User CAL pool(s)".
SET CLOCK '2026-01-05 09:00:00';
SET SEED 1;

-- A license server with a pack of 2 per-user CALs, and a per-user host.
CREATE SERVER ls1 PRODUCT WS2022;
ACTIVATE SERVER ls1;
INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL USER COUNT 2;
CREATE HOST rdsh1 PRODUCT WS2022 MODE USER;
CREATE DEVICE pc1;
CREATE DEVICE pc2;

-- Step 1-2: the client connects, the host contacts a license server: accepted.
CONNECT pc1 AS alice TO rdsh1;
-- Three users on a pack of two: all accepted; the pool is never decremented.
CONNECT pc1 AS bob TO rdsh1;
CONNECT pc2 AS carol TO rdsh1;
SELECT server, user, product, issued, expires FROM user_cals;

-- The license server goes away. Finding it ended the host's grace period for
-- good, so a connection is now denied: "If a license server cannot be
-- located, then the connection is denied."
SET SERVER ls1 OFFLINE;
CONNECT pc2 AS dave TO rdsh1;

-- Back online: accepted again. Alice signs in during the last 7 days of her
-- tracked CAL, which extends it to 60 days from today.
SET SERVER ls1 ONLINE;
ADVANCE 55 DAYS;
CONNECT pc1 AS alice TO rdsh1;
SELECT server, user, issued, expires FROM user_cals ORDER BY user;

-- What it cost: no device CAL, and the per-user pool untouched.
SELECT COUNT(*) FROM licenses;
SELECT id, cal, type, total, issued, available FROM keypacks;
CHECK;
