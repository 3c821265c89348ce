import { jest } from '@jest/globals';
import type { PathLike } from 'node:fs';

// The native addon is missing (as after an install without a toolchain): the router falls back to
// the JS socket layer and has one warning to give.
const actualFs = await import('node:fs');
const existsSync = (p: PathLike) => (String(p).endsWith('shardline_socket.node') ? false : actualFs.existsSync(p));
jest.unstable_mockModule('node:fs', () => ({ ...actualFs, default: { ...actualFs, existsSync }, existsSync }));

const { createRouter } = await import('../../src/router/index.js');
const { bundledClusterConfig, loadClusterConfig } = await import('../../src/config/index.js');

describe('createRouter({ logger })', () => {
  it("sends the router's warning to the logger with pino's (obj, msg) signature, not to process.emitWarning", async () => {
    const calls: { level: string; obj: object; msg: string }[] = [];
    const at = (level: string) => (obj: object, msg: string) => void calls.push({ level, obj, msg });
    const logger = { warn: at('warn'), info: at('info'), error: at('error') };
    const emitted: unknown[] = [];
    const onWarning = (w: unknown) => emitted.push(w);
    process.on('warning', onWarning);
    const emitWarning = jest.spyOn(process, 'emitWarning');
    try {
      const router = await createRouter({ config: loadClusterConfig(bundledClusterConfig, {}), logger });
      await router.close();
      expect(calls).toHaveLength(1);
      expect(calls[0]).toMatchObject({ level: 'warn', obj: { component: 'socket-layer' } });
      expect(calls[0]!.msg).toMatch(/^shardline: using the JS socket layer/);
      expect(emitWarning).not.toHaveBeenCalled();
      await new Promise((r) => setImmediate(r));
      expect(emitted).toEqual([]);
    } finally {
      emitWarning.mockRestore();
      process.off('warning', onWarning);
    }
  });
});
