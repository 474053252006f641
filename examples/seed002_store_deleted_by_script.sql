-- Seed 002, cause 2: "This could also happen if you have a script in place
-- which deletes MSLicensing Key at shutdown." Here the script deletes the
-- Store only: the HWID stays, the CAL certificates go. Every morning the
-- machine connects with an empty store, so it starts over with a temporary
-- CAL and is upgraded to yet another full CAL. Resolution: remove the script.
SET CLOCK '2026-01-05 08:00:00';
SET SEED 5;

CREATE SERVER ls1 PRODUCT WS2022;
ACTIVATE SERVER ls1;
INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL DEVICE COUNT 5;
CREATE HOST rdsh1 PRODUCT WS2022 MODE DEVICE;
CREATE DEVICE kiosk;

-- Monday: a temporary CAL at the first connection, a full CAL at the second.
CONNECT kiosk AS alice TO rdsh1;
CONNECT kiosk AS alice TO rdsh1;
-- Shutdown: the script runs.
CLEAR DEVICE kiosk STORE;
SHOW DEVICE kiosk;

-- Tuesday: the same again.
ADVANCE 1 DAYS;
CONNECT kiosk AS alice TO rdsh1;
CONNECT kiosk AS alice TO rdsh1;
CLEAR DEVICE kiosk STORE;

-- Wednesday.
ADVANCE 1 DAYS;
CONNECT kiosk AS alice TO rdsh1;
CONNECT kiosk AS alice TO rdsh1;
CLEAR DEVICE kiosk STORE;

-- Thursday.
ADVANCE 1 DAYS;
CONNECT kiosk AS alice TO rdsh1;
CONNECT kiosk AS alice TO rdsh1;

-- Friday: the pool has one CAL left; after today it is empty.
ADVANCE 1 DAYS;
CLEAR DEVICE kiosk STORE;
CONNECT kiosk AS alice TO rdsh1;
CONNECT kiosk AS alice TO rdsh1;
SELECT id, computer, hwid, status, issued, expires FROM licenses WHERE kind = 'permanent';

-- The script is removed. A second kiosk now finds no CAL left: it stays on
-- its temporary CAL (event 21 on the license server).
CREATE DEVICE kiosk2;
CONNECT kiosk2 AS bob TO rdsh1;
CONNECT kiosk2 AS bob TO rdsh1;
SELECT node, event, message FROM events WHERE event = 21;

-- What it cost: one machine, five full CALs, all of them live on one HWID.
SELECT status, COUNT(*) FROM licenses GROUP BY status;
SELECT id, total, issued, available FROM keypacks WHERE type = 'retail';
CHECK;
