-- Seed 001: the Session Directory. "It provides information when a user
-- reconnects (after disconnecting intentionally or because of a network
-- failure) to ensure that the user reconnects to the same session rather than
-- starting a new session." Licensing still runs against the host chosen.
SET CLOCK '2026-01-05 09:00:00';
SET SEED 1;

CREATE SERVER ls1 PRODUCT WS2022;
ACTIVATE SERVER ls1;
INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL DEVICE COUNT 5;
CREATE HOST ts1 PRODUCT WS2022 MODE DEVICE FARM sales;
CREATE HOST ts2 PRODUCT WS2022 MODE DEVICE FARM sales;
CREATE HOST ts3 PRODUCT WS2022 MODE DEVICE FARM sales;
CREATE DEVICE office-pc;
CREATE DEVICE laptop;

-- Users log on to the farm: each goes to the least loaded node (ties by name).
CONNECT office-pc AS alice TO FARM sales;
CONNECT office-pc AS bob TO FARM sales;
CONNECT office-pc AS carol TO FARM sales;
SELECT id, user, host, state FROM sessions;

-- Alice's network drops: her session is disconnected, not ended.
DISCONNECT SESSION 1;
ADVANCE 2 HOURS;

-- Meanwhile two more users log on; with no active session left on ts1, the
-- load balancer sends both there (ties go by name).
CONNECT laptop AS dave TO FARM sales;
CONNECT laptop AS erin TO FARM sales;
SELECT host, COUNT(*) FROM sessions WHERE state = 'active' GROUP BY host;

-- From her laptop alice connects to the farm again. ts1 is now the busiest
-- node, but the session directory has her disconnected session there, so she
-- goes back to ts1 and to that same session (id 1).
CONNECT laptop AS alice TO FARM sales;
SELECT id, user, device, host, state, started, changed FROM sessions;

-- A user has one live session per host: connecting straight to ts1 again
-- reconnects the same session. Logging off ends it; the directory is updated.
CONNECT office-pc AS alice TO ts1;
LOGOFF SESSION 1;
CONNECT laptop AS alice TO FARM sales;
SELECT id, user, device, host, state FROM sessions;

-- What it cost: a CAL per device, not per session or per host.
SELECT computer, kind, status FROM licenses ORDER BY id;
SELECT status, COUNT(*) FROM licenses GROUP BY status;
SELECT id, total, issued, available FROM keypacks WHERE type = 'retail';
CHECK;
