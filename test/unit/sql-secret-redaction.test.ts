import { redactSqlSecrets } from '../../src/log/redact-sql-secrets.js';
import { prng } from '../support/prng.js';

/** Every case: the statement, and the secrets that must not survive (each also checked to be in the input). */
const CASES: [string, string[]][] = [
  ["ALTER USER 'app'@'%' IDENTIFIED BY 's3cret'", ['s3cret']],
  ["CREATE USER 'x'@'%' IDENTIFIED WITH 'caching_sha2_password' AS '$A$005$hash-pw'", ['hash-pw']],
  ["SET PASSWORD FOR 'bob'@'localhost' = PASSWORD('pw-set-fn')", ['pw-set-fn']],
  ["SET PASSWORD FOR bob@localhost = 'pw-set-plain'", ['pw-set-plain']],
  ["SET PASSWORD = 'pw-own' REPLACE 'pw-current'", ['pw-own', 'pw-current']],
  ["CREATE USER u@'%' IDENTIFIED VIA ed25519 USING PASSWORD('pw-via') OR unix_socket", ['pw-via']],
  [
    "ALTER USER u IDENTIFIED VIA mysql_native_password USING '*A4B6157319038724E3560894F7F932C8886EBFCF'",
    ['A4B6157319038724E3560894F7F932C8886EBFCF'],
  ],
  [
    "CREATE SERVER s FOREIGN DATA WRAPPER mysql OPTIONS (HOST '127.0.0.1', DATABASE 'db', USER 'u', PASSWORD 'pw-server', PORT 3306)",
    ['pw-server'],
  ],
  ["ALTER SERVER s OPTIONS (PASSWORD 'pw-alter-server')", ['pw-alter-server']],
  ["CREATE USER u IDENTIFIED WITH caching_sha2_password BY 'pw-with-by'", ['pw-with-by']],
  [
    "GRANT ALL ON *.* TO 'u'@'%' IDENTIFIED BY PASSWORD '*94BDCEBE19083CE2A1F959FD02F964C7AF4CFC29'",
    ['94BDCEBE19083CE2A1F959FD02F964C7AF4CFC29'],
  ],
  ["GRANT SELECT ON db.* TO u@'%' IDENTIFIED BY 'pw-grant'", ['pw-grant']],
  ["CHANGE MASTER TO MASTER_HOST='h', MASTER_USER='r', MASTER_PASSWORD='pw-master', MASTER_LOG_FILE='b.000001'", ['pw-master']],
  ["CHANGE REPLICATION SOURCE TO SOURCE_USER = 'r', SOURCE_PASSWORD = 'pw-source' FOR CHANNEL 'c1'", ['pw-source']],
  ["START REPLICA USER='r' PASSWORD='pw-start-replica'", ['pw-start-replica']],
  ["START SLAVE USER='r' PASSWORD='pw-start-slave' DEFAULT_AUTH='mysql_native_password'", ['pw-start-slave']],
  ["START GROUP_REPLICATION USER='r', PASSWORD='pw-gr'", ['pw-gr']],
  ["ALTER USER u IDENTIFIED BY 'pw-new' REPLACE 'pw-old' RETAIN CURRENT PASSWORD", ['pw-new', 'pw-old']],
  ["ALTER USER u ADD 2 FACTOR IDENTIFIED WITH authentication_ldap_sasl AS 'pw-2fa'", ['pw-2fa']],
  ["CREATE USER u IDENTIFIED BY RANDOM PASSWORD, v IDENTIFIED BY 'pw-list'", ['pw-list']],
  // escapes and doubled quotes cannot end the redaction early
  ["CREATE USER 'u'@'%' IDENTIFIED BY 'it\\'s-pw-escaped' , 'v'@'%' IDENTIFIED BY 'o''pw-doubled'", ['s-pw-escaped', 'pw-doubled']],
  ["CREATE USER u IDENTIFIED BY 'a\\' , PASSWORD ''pw-trick'", ['pw-trick']],
  ["CREATE USER u IDENTIFIED BY 'ends-with-backslash\\\\'", ['ends-with-backslash']],
  // NO_BACKSLASH_ESCAPES: the backslash is a character and the quote ends the string
  ["CREATE USER u IDENTIFIED BY 'nbe-pw\\'", ['nbe-pw']],
  ['CREATE USER u IDENTIFIED BY "dq-pw\\"x"', ['dq-pw', 'x"']],
  // comments in between, odd case, executable comments
  ["cReAtE /* c */ uSeR u identified /*x*/ by /* y */ 'pw-comments'", ['pw-comments']],
  ["CREATE USER u IDENTIFIED -- note\n BY # more\n 'pw-line-comments'", ['pw-line-comments']],
  ["/*!80000 CREATE USER u IDENTIFIED BY 'pw-exec' */", ['pw-exec']],
  ["CREATE /*M!100000 OR REPLACE */ USER u IDENTIFIED BY 'pw-mariadb-exec'", ['pw-mariadb-exec']],
  ["CREATE USER u IDENTIFIED BY /* 'not-the-pw' */ 'pw-after-comment'", ['pw-after-comment']],
  ["CREATE USER u IDENTIFIED BY _utf8mb4'pw-introducer'", ['pw-introducer']],
  ["CREATE USER u IDENTIFIED BY _latin1 X'70772d686578'", ['70772d686578']],
  ["CREATE USER u IDENTIFIED BY N'pw-national'", ['pw-national']],
  ["SET STATEMENT max_statement_time=10 FOR CREATE USER u IDENTIFIED BY 'pw-set-statement'", ['pw-set-statement']],
  ["EXECUTE IMMEDIATE 'CREATE USER u IDENTIFIED BY ''pw-immediate'''", ['pw-immediate']],
  ["CREATE USER 'u'@'%' IDENTIFIED BY 'pw-unterminated", ['pw-unterminated']],
  ["UPDATE mysql.user SET authentication_string = '*pw-grant-table' WHERE user = 'u'", ['pw-grant-table']],
  ["SELECT AES_ENCRYPT('data-plain', 'pw-aes-key'), DES_ENCRYPT ('x', 'pw-des')", ['pw-aes-key', 'pw-des', 'data-plain']],
  ["CREATE TABLE f (a INT) ENGINE=FEDERATED CONNECTION='mysql://fed_user:pw-federated@remote:3306/db/t'", ['pw-federated']],
  ["CREATE TABLE c (a INT) ENGINE=CONNECT TABLE_TYPE=MYSQL OPTION_LIST='user=u,password=pw-connect,host=h'", ['pw-connect']],
  ['CREATE TABLE s (a INT) ENGINE=SPIDER COMMENT=\'wrapper "mysql", host "h", user "u", password "pw-spider"\'', ['pw-spider']],
  ["CREATE USER a IDENTIFIED BY 'pw-one'; CREATE USER b IDENTIFIED BY 'pw-two'", ['pw-one', 'pw-two']],
];

describe('redactSqlSecrets', () => {
  it.each(CASES)('%s', (sql, secrets) => {
    const out = redactSqlSecrets(sql);
    for (const s of secrets) {
      expect(sql).toContain(s);
      expect(out).not.toContain(s);
    }
    expect(out).toContain('<redacted>');
  });

  it('keeps account names, plugin names and non-secret options readable', () => {
    expect(redactSqlSecrets("CREATE USER 'app'@'10.0.%' IDENTIFIED WITH 'caching_sha2_password' AS '$A$005$x'")).toBe(
      "CREATE USER 'app'@'10.0.%' IDENTIFIED WITH 'caching_sha2_password' AS '<redacted>'",
    );
    expect(redactSqlSecrets("CHANGE MASTER TO MASTER_HOST='db1', MASTER_USER='repl', MASTER_PASSWORD='p'")).toBe(
      "CHANGE MASTER TO MASTER_HOST='db1', MASTER_USER='repl', MASTER_PASSWORD='<redacted>'",
    );
    expect(redactSqlSecrets("SET PASSWORD FOR 'bob'@'localhost' = PASSWORD('p')")).toBe(
      "SET PASSWORD FOR 'bob'@'localhost' = PASSWORD('<redacted>')",
    );
    expect(redactSqlSecrets("CREATE USER 'u'@'%' IDENTIFIED BY 'a', 'v'@'%' IDENTIFIED BY 'b'")).toBe(
      "CREATE USER 'u'@'%' IDENTIFIED BY '<redacted>', 'v'@'%' IDENTIFIED BY '<redacted>'",
    );
  });

  it('leaves ordinary statements alone', () => {
    for (const sql of [
      'UPDATE t SET a = 1',
      "CREATE TABLE t (password VARCHAR(64) NOT NULL DEFAULT '', status ENUM('new','paid') COMMENT 'state')",
      "ALTER TABLE users ADD COLUMN extra VARCHAR(10) DEFAULT 'late'",
      "INSERT INTO t VALUES ('it\\'s', 'o''k')",
      'BEGIN',
    ]) {
      expect(redactSqlSecrets(sql)).toBe(sql);
    }
  });

  it('fuzz: a secret spliced into account statements in random shapes never survives', () => {
    const rand = prng(1107);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const gap = () => pick([' ', '  ', '\n', ' /* c */ ', ' /*!50000 */ ', ' -- x\n ', ' #y\n ', '\t']);
    const kw = (w: string) => (rand() < 0.5 ? w.toLowerCase() : w);
    for (let i = 0; i < 3000; i++) {
      const secret = `Zq${i}x${pick(['', "\\'", "''", '\\\\', '"', '*/', '/*', '--', '#', ';', '@', ' BY '])}Zq${i}y`;
      const lit = `${pick(['', '_utf8mb4', 'N'])}'${secret}'`;
      const sql = pick([
        () => `${kw('CREATE')}${gap()}${kw('USER')}${gap()}'u'@'%'${gap()}${kw('IDENTIFIED')}${gap()}${kw('BY')}${gap()}${lit}`,
        () =>
          `${kw('ALTER')}${gap()}${kw('USER')}${gap()}u${gap()}${kw('IDENTIFIED')}${gap()}${kw('VIA')}${gap()}p${gap()}${kw('USING')}${gap()}${kw('PASSWORD')}(${lit})`,
        () => `${kw('SET')}${gap()}${kw('PASSWORD')}${gap()}${kw('FOR')}${gap()}u@h${gap()}=${gap()}${lit}`,
        () =>
          `${kw('CREATE')}${gap()}${kw('SERVER')}${gap()}s${gap()}${kw('FOREIGN')} DATA WRAPPER mysql OPTIONS (USER 'u',${gap()}${kw('PASSWORD')}${gap()}${lit})`,
        () => `${kw('CHANGE')}${gap()}${kw('MASTER')}${gap()}TO MASTER_HOST='h',${gap()}${kw('MASTER_PASSWORD')}${gap()}=${gap()}${lit}`,
      ])();
      const out = redactSqlSecrets(sql);
      // A secret with an escape is one string only in one reading; the secret's own parts never survive.
      expect([sql, out, out.includes(`Zq${i}x`) || out.includes(`Zq${i}y`)]).toEqual([sql, out, false]);
    }
  });
});
