import http from 'node:http';
import type { Registry } from 'prom-client';

/** What /healthz reports; `ok: false` answers 503. */
export type HealthReport = { ok: boolean } & Record<string, unknown>;

/** Serves `/metrics` (Prometheus text) and `/healthz` (JSON) on host:port. */
export async function startMetricsServer(
  host: string,
  port: number,
  registry: Registry,
  health: () => HealthReport,
): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405).end();
    } else if (path === '/metrics') {
      registry
        .metrics()
        .then((text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text))
        .catch((err: Error) => res.writeHead(500).end(err.message));
    } else if (path === '/healthz') {
      const report = health();
      res.writeHead(report.ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(report));
    } else res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : port,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
