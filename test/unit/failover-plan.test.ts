import { failoverSql, repointStatement } from '../../src/cli/failover.js';

describe('failover statements', () => {
  it('fence with super_read_only on MySQL (the admin account bypasses plain read_only) and read_only on MariaDB', () => {
    expect(failoverSql('mysql').fence).toEqual(['SET GLOBAL super_read_only = ON']);
    expect(failoverSql('mariadb').fence).toEqual(['SET GLOBAL read_only = ON']);
    expect(failoverSql('mysql').promote).toEqual([
      'STOP REPLICA',
      'RESET REPLICA ALL',
      'SET GLOBAL super_read_only = OFF',
      'SET GLOBAL read_only = OFF',
    ]);
    expect(failoverSql('mariadb').waitFor).toBe('SELECT MASTER_GTID_WAIT(?, ?) AS w');
  });

  it('repoint by GTID with every value bound, never spliced into the text', () => {
    const account = { user: "repl'; DROP USER root; --", password: 'p"w\\' };
    const mysql = repointStatement(
      'mysql',
      { name: 'r', host: 'db-1', port: 3306, serverPublicKey: '/keys/r.pem' },
      account,
      undefined,
      true,
    );
    expect(mysql.sql).toBe(
      'CHANGE REPLICATION SOURCE TO SOURCE_HOST=?, SOURCE_PORT=?, SOURCE_USER=?, SOURCE_PASSWORD=?, SOURCE_AUTO_POSITION=1, SOURCE_CONNECT_RETRY=2, SOURCE_PUBLIC_KEY_PATH=?',
    );
    expect(mysql.values).toEqual(['db-1', 3306, account.user, account.password, '/keys/r.pem']);
    const tls = repointStatement('mysql', { name: 'r', host: 'db-1', port: 3306 }, account, { mode: 'verify-full', ca: '/ca.pem' }, false);
    expect(tls.sql).toMatch(/SOURCE_SSL=1, SOURCE_SSL_CA=\?$/);
    expect(tls.values.at(-1)).toBe('/ca.pem');
  });

  it('a demoted MariaDB primary starts from its own binlog position (current_pos), another replica from its slave position', () => {
    const n = { name: 'r', host: 'h', port: 1 };
    expect(repointStatement('mariadb', n, { user: 'u', password: 'p' }, undefined, true).sql).toContain('MASTER_USE_GTID=current_pos');
    expect(repointStatement('mariadb', n, { user: 'u', password: 'p' }, undefined, false).sql).toContain('MASTER_USE_GTID=slave_pos');
  });
});
