-- Seed 002, cause 1a: "you used a syspreped image ... where the HardwareID was
-- defined in the image because of which each device which was built using
-- that image got the same hardware ID."
--   Client1 gets license 1; Client2, same HWID, gets license 2; the HWID is
--   now associated with license 2, so Client1 is issued license 3 ...
--   "machines are constantly getting new licenses, even when they aren't
--   needed."
SET CLOCK '2026-01-05 09:00:00';
SET SEED 7;

CREATE SERVER ls1 PRODUCT WS2022;
ACTIVATE SERVER ls1;
INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL DEVICE COUNT 10;
CREATE HOST rdsh1 PRODUCT WS2022 MODE DEVICE;

-- The golden image, and two machines built from it that kept its HardwareID.
CREATE DEVICE image;
CLONE DEVICE image AS client1;
CLONE DEVICE image AS client2;
SELECT name, hwid FROM devices;

-- Each client gets a temporary CAL, logs on, and is upgraded to a full CAL.
CONNECT client1 AS alice TO rdsh1;
CONNECT client1 AS alice TO rdsh1;
CONNECT client2 AS bob TO rdsh1;
CONNECT client2 AS bob TO rdsh1;
SELECT id, computer, status, expires FROM licenses WHERE kind = 'permanent';

-- Renewal time for client2 (within 7 days of its expiry): its license 4 is the
-- one the HWID is associated with, so it is simply renewed.
SET CLOCK '2026-03-01 09:00:00';
CONNECT client2 AS bob TO rdsh1;

-- Renewal time for client1: its license 2 is not the one the HWID is
-- associated with (4 is), so it is issued a new license, 5. License 2 keeps
-- its CAL until it expires on 2026-03-22.
SET CLOCK '2026-03-16 09:00:00';
CONNECT client1 AS alice TO rdsh1;
SELECT status, COUNT(*) FROM licenses WHERE kind = 'permanent' GROUP BY status;

-- client2's next renewal finds the HWID associated with license 5: a new
-- license 6, while 4 stays issued until it expires.
SET CLOCK '2026-05-01 09:00:00';
CONNECT client2 AS bob TO rdsh1;

-- And round it goes: client1's next renewal is another new license.
SET CLOCK '2026-05-30 09:00:00';
CONNECT client1 AS alice TO rdsh1;

-- What it cost: two machines, five full CALs issued in five months, three of
-- them held at once at times. The resolution is a sysprepped image that does
-- not carry the MSLicensing key.
SELECT id, computer, status, issued, expires FROM licenses WHERE kind = 'permanent';
SELECT computer, COUNT(*) FROM licenses WHERE kind = 'permanent' GROUP BY computer;
SELECT status, COUNT(*) FROM licenses GROUP BY status;
SELECT id, total, issued, available FROM keypacks WHERE type = 'retail';
CHECK;
