import { execFileSync } from 'node:child_process';

/**
 * Two network namespaces of our own joined by a veth pair: the server side and the client side.
 * Taking the server's link down drops every packet silently (no RST, no ICMP): a partition.
 */
export class NetnsPair {
  readonly server: string;
  readonly client: string;
  readonly serverAddress = '10.251.7.1';
  readonly clientAddress = '10.251.7.2';
  private readonly serverIf: string;
  private readonly clientIf: string;

  constructor(tag = String(process.pid % 100000)) {
    this.server = `slt${tag}s`;
    this.client = `slt${tag}c`;
    this.serverIf = `slv${tag}s`;
    this.clientIf = `slv${tag}c`;
  }

  /** Creates both namespaces and the link. Needs root and iproute2. */
  up(): void {
    if (process.getuid?.() !== 0) throw new Error('network-namespace fault tests need root (ip netns)');
    this.down();
    const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });
    ip('netns', 'add', this.server);
    ip('netns', 'add', this.client);
    ip('link', 'add', this.serverIf, 'type', 'veth', 'peer', 'name', this.clientIf);
    ip('link', 'set', this.serverIf, 'netns', this.server);
    ip('link', 'set', this.clientIf, 'netns', this.client);
    ip('-n', this.server, 'addr', 'add', `${this.serverAddress}/30`, 'dev', this.serverIf);
    ip('-n', this.client, 'addr', 'add', `${this.clientAddress}/30`, 'dev', this.clientIf);
    for (const [ns, dev] of [
      [this.server, this.serverIf],
      [this.client, this.clientIf],
    ] as const) {
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'link', 'set', dev, 'up');
    }
  }

  /** Silently cuts the link. */
  partition(): void {
    execFileSync('ip', ['-n', this.server, 'link', 'set', this.serverIf, 'down'], { stdio: 'pipe' });
  }

  /** Restores the link and forgets neighbour entries that failed during the partition. */
  heal(): void {
    execFileSync('ip', ['-n', this.server, 'link', 'set', this.serverIf, 'up'], { stdio: 'pipe' });
    for (const ns of [this.server, this.client]) execFileSync('ip', ['-n', ns, 'neigh', 'flush', 'all'], { stdio: 'pipe' });
  }

  /** Removes both namespaces (and with them the veth pair). */
  down(): void {
    for (const ns of [this.server, this.client]) {
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'pipe' });
      } catch {
        /* not there */
      }
    }
  }
}
