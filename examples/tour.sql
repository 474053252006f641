-- A tour of caldb: one license server, one session host, one device.
SET CLOCK '2026-01-05 09:00:00';
SET SEED 7;
CREATE SERVER ls1 PRODUCT WS2022;
ACTIVATE SERVER ls1;
INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL DEVICE COUNT 5;
CREATE HOST rdsh1 PRODUCT WS2022 MODE DEVICE;
CREATE DEVICE pc1;
-- First connection: a temporary CAL; the logon validates it.
CONNECT pc1 AS alice TO rdsh1;
-- Second connection: the validated temporary CAL is upgraded to a permanent one.
CONNECT pc1 AS alice TO rdsh1;
SELECT id, kind, status, computer, expires FROM licenses;
SHOW DEVICE pc1;
CHECK;
