-- The format-5 fixture (tests/format5_file.rs): made once by the format-5
-- caldb (tokens stored by reference to their licenses, long history
-- chunks in zstd) from the repository's root with
--   caldb tests/data/format5.redb < tests/data/format5.sql
-- and its `.dump` kept beside it. The format-4 fixture's statements
-- (format4.sql), then: a clone that keeps the store (tokens placed from
-- another computer's license), a block of protocol steps committed
-- together (a zstd chunk of history), and a rebuilt server whose devices
-- keep their CALs (tokens written whole).
SET CLOCK '2026-01-05 09:00:00';
SET SEED 7;
CREATE SERVER ls1 PRODUCT WS2022;
ACTIVATE SERVER ls1;
INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL DEVICE COUNT 5;
INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL USER COUNT 2;
CREATE HOST rdsh1 PRODUCT WS2022 MODE DEVICE;
CREATE HOST RDSH2 PRODUCT WS2022 MODE USER;
CREATE DEVICE pc1;
CONNECT pc1 AS alice TO rdsh1;
CONNECT PC1 AS alice TO RDSH1;
DISCONNECT SESSION 1;
LOGOFF SESSION 1;
CLONE DEVICE pc1 AS Pc2;
CONNECT pc2 AS bob TO rdsh1;
CONNECT pc2 AS bob TO rdsh1;
CREATE DEVICE pc3;
CONNECT pc3 AS carol TO rdsh2;
CONNECT pc3 AS Carol TO rdsh2;
CONNECT pc3 AS admin TO rdsh1 ADMIN;
CONNECT CLIENT HWID '000001040102030405060708090A0B0C0D0E0F10' NAME 'PC-ALPHA' AS alice TO rdsh1;
SET CLOCK '2026-03-01 09:00:00';
CONNECT pc2 AS bob TO rdsh1;
SET CLOCK '2026-03-16 09:00:00';
CONNECT pc1 AS alice TO rdsh1;
REVOKE LICENSE 4;
CREATE SERVER ls2 PRODUCT WS2025;
ACTIVATE SERVER ls2;
INSTALL KEYPACK ON ls2 PRODUCT WS2025 CAL DEVICE COUNT 3;
CREATE HOST rdsh3 PRODUCT WS2025 MODE DEVICE LICENSE SERVERS (ls2);
CREATE DEVICE pc4;
CONNECT pc4 AS dave TO rdsh3;
CONNECT pc4 AS dave TO rdsh3;
CREATE DEVICE pc5;
CONNECT pc5 AS erin TO rdsh1;
CONNECT pc5 AS erin TO rdsh1;
CREATE SERVER LS-A PRODUCT WS2022;
IMPORT LICENSES FROM 'tests/data/ids15/ls_a_licenses.csv' INTO SERVER LS-A;
SET KEYPACK 2 ON LS-A PRODUCT WS2019 CAL DEVICE COUNT 10;
CLONE DEVICE pc4 AS pc6 WITH STORE;
CREATE SERVER ls3 PRODUCT WS2022;
ACTIVATE SERVER ls3;
INSTALL KEYPACK ON ls3 PRODUCT WS2022 CAL DEVICE COUNT 4;
CREATE HOST rdsh4 PRODUCT WS2022 MODE DEVICE LICENSE SERVERS (ls3);
BEGIN;
CREATE DEVICE pc7;
CONNECT pc7 AS gina TO rdsh4;
CONNECT pc7 AS gina TO rdsh4;
CREATE DEVICE pc8;
CONNECT pc8 AS hank TO rdsh4;
CONNECT pc8 AS hank TO rdsh4;
CREATE DEVICE pc9;
CONNECT pc9 AS ines TO rdsh4;
CONNECT pc9 AS ines TO rdsh4;
CREATE DEVICE pc10;
CONNECT pc10 AS jon TO rdsh4;
CONNECT pc10 AS jon TO rdsh4;
CREATE DEVICE pc11;
CONNECT pc11 AS kim TO rdsh1;
CONNECT pc11 AS kim TO rdsh1;
COMMIT;
REBUILD SERVER ls3;
ADVANCE 30 DAYS;
CHECK;
