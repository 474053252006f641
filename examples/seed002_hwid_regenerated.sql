-- Seed 002, cause 5 and the quick workaround: "a new hardware ID will be
-- generated automatically for the client" (or an admin deletes
-- MSLicensing\HardwareID and Store), so the license server sees a new device
-- and issues another CAL. Workaround 2: "Regenerate the ClientHWID and Rebuild
-- the License server database (KB273566) and reinstall the CAL Packs to
-- restore all the CALS."
SET CLOCK '2026-01-05 09:00:00';
SET SEED 11;

CREATE SERVER ls1 PRODUCT WS2022;
ACTIVATE SERVER ls1;
INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL DEVICE COUNT 3;
CREATE HOST rdsh1 PRODUCT WS2022 MODE DEVICE;
CREATE DEVICE pc1;
CREATE DEVICE pc2;

CONNECT pc1 AS alice TO rdsh1;
CONNECT pc1 AS alice TO rdsh1;
CONNECT pc2 AS bob TO rdsh1;
CONNECT pc2 AS bob TO rdsh1;

-- pc1's licensing key is regenerated (the old one was corrupted): a new
-- HWID, an empty store, and another CAL. The first one stays issued.
ADVANCE 3 DAYS;
CLEAR DEVICE pc1 LICENSING;
CONNECT pc1 AS alice TO rdsh1;
CONNECT pc1 AS alice TO rdsh1;
SELECT id, computer, hwid, status FROM licenses WHERE kind = 'permanent';
SELECT id, total, issued, available FROM keypacks WHERE type = 'retail';

-- The pool is empty: a new device stays on a temporary CAL.
CREATE DEVICE pc3;
CONNECT pc3 AS carol TO rdsh1;
CONNECT pc3 AS carol TO rdsh1;

-- The workaround: rebuild the license server database and reinstall the
-- key packs. Every issued license is gone, the pools are full again, the
-- server stays activated. The devices keep their certificates.
REBUILD SERVER ls1 REINSTALL KEYPACKS;
SELECT id, total, issued, available FROM keypacks WHERE type = 'retail';

-- ... and regenerate the HWID of the device whose temporary CAL the rebuilt
-- server no longer knows: it starts over and gets a full CAL.
CLEAR DEVICE pc3 LICENSING;
CONNECT pc3 AS carol TO rdsh1;
CONNECT pc3 AS carol TO rdsh1;

-- pc1 and pc2 go on with their certificates until their renewal, when the
-- rebuilt server does not know them and reissues them from the restored pool.
CONNECT pc1 AS alice TO rdsh1;
SET CLOCK '2026-03-03 09:00:00';
CONNECT pc2 AS bob TO rdsh1;
SET CLOCK '2026-03-28 09:00:00';
CONNECT pc1 AS alice TO rdsh1;

-- What it cost: after the rebuild, one CAL per device.
SELECT id, computer, status, expires FROM licenses;
SELECT status, COUNT(*) FROM licenses GROUP BY status;
SELECT id, total, issued, available FROM keypacks WHERE type = 'retail';
CHECK;
