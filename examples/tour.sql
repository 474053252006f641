-- A short tour of caldb: a license server, a session host, devices, and what
-- a cloned image costs. Run it with: caldb -echo -table < examples/tour.sql
SET CLOCK '2026-01-05 09:00:00';
SET SEED 7;

-- Deployment: an activated license server with 5 device CALs, and a
-- per-device session host.
CREATE SERVER ls1 PRODUCT WS2022;
ACTIVATE SERVER ls1;
INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL DEVICE COUNT 5;
CREATE HOST rdsh1 PRODUCT WS2022 MODE DEVICE;
CREATE DEVICE pc1;
SHOW HOST rdsh1;

-- A first connection: a temporary CAL; the successful logon validates it.
CONNECT pc1 AS alice TO rdsh1;
-- The next one upgrades it to a permanent CAL (52 to 89 days, then renewed).
CONNECT pc1 AS alice TO rdsh1;
SHOW DEVICE pc1;
-- Alice disconnects, then logs off.
DISCONNECT SESSION 1;
LOGOFF SESSION 1;

-- pc2 is built from pc1's image, HardwareID included: same HWID, and a
-- second CAL, which makes pc1's CAL stale. pc2 renews its own CAL; at pc1's
-- renewal pc1 is reissued and its stale CAL stays issued until it expires.
CLONE DEVICE pc1 AS pc2;
CONNECT pc2 AS bob TO rdsh1;
CONNECT pc2 AS bob TO rdsh1;
SET CLOCK '2026-03-01 09:00:00';
CONNECT pc2 AS bob TO rdsh1;
SET CLOCK '2026-03-16 09:00:00';
CONNECT pc1 AS alice TO rdsh1;

-- Two devices, three CALs.
SELECT computer, status, COUNT(*) FROM licenses WHERE kind = 'permanent' GROUP BY computer, status;
SELECT id, total, issued, available FROM keypacks WHERE type = 'retail';
CHECK;
