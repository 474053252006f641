-- Seed 000, step 7 of "Client with no existing CAL": "The process of
-- validating the Temporary CAL ensures that only a client who has
-- successfully logged on to the Terminal Server can obtain a Permanent CAL
-- from the license server. This prevents a DOS-style attack that plagued
-- pre-SP3 Windows 2000 Terminal Servers."
SET CLOCK '2026-01-05 09:00:00';
SET SEED 1;

CREATE SERVER ls1 PRODUCT WS2022;
ACTIVATE SERVER ls1;
INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL DEVICE COUNT 3;
CREATE HOST rdsh1 PRODUCT WS2022 MODE DEVICE;

-- An attacker brings up machine after machine and connects without valid
-- credentials. Each gets a temporary CAL (licensing runs before logon) ...
CREATE DEVICE bot1;
CREATE DEVICE bot2;
CREATE DEVICE bot3;
CREATE DEVICE bot4;
CONNECT bot1 AS mallory TO rdsh1 LOGON FAILED;
CONNECT bot2 AS mallory TO rdsh1 LOGON FAILED;
CONNECT bot3 AS mallory TO rdsh1 LOGON FAILED;
CONNECT bot4 AS mallory TO rdsh1 LOGON FAILED;

-- ... and comes back, again and again: the temporary CALs were never
-- validated, so none is upgraded and the pool of 3 full CALs stays whole.
CONNECT bot1 AS mallory TO rdsh1 LOGON FAILED;
CONNECT bot2 AS mallory TO rdsh1 LOGON FAILED;
CONNECT bot3 AS mallory TO rdsh1;
SELECT computer, kind, status, validated FROM licenses;
SELECT id, total, issued, available FROM keypacks WHERE type = 'retail';

-- bot3's user did log on, which validated its temporary CAL: that device, and
-- only that one, is upgraded at its next connection. No session was started
-- for a failed logon.
CONNECT bot3 AS mallory TO rdsh1;
SELECT user, device, state FROM sessions;

-- A legitimate user: temporary CAL, logon, then a full CAL.
CREATE DEVICE pc1;
CONNECT pc1 AS alice TO rdsh1;
CONNECT pc1 AS alice TO rdsh1;

-- What it cost: two full CALs, for the two devices whose users logged on.
SELECT status, COUNT(*) FROM licenses GROUP BY status;
SELECT id, total, issued, available FROM keypacks WHERE type = 'retail';
CHECK;
