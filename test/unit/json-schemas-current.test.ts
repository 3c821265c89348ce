import { readFileSync } from 'node:fs';
import path from 'node:path';
import { jsonSchemas } from '../../src/config/write-json-schemas.js';

const schemasDir = path.resolve(import.meta.dirname, '..', '..', 'schemas');

// Editors validate users' config files against the committed JSON Schema (additionalProperties:
// false): a key the zod schema accepts but the committed file lacks is flagged as an error there.
describe('the committed JSON Schemas', () => {
  it.each(Object.entries(jsonSchemas()))('%s is what `npm run schemas` generates from the zod schemas', (file, schema) => {
    const committed = JSON.parse(readFileSync(path.join(schemasDir, file), 'utf8')) as unknown;
    expect(committed).toEqual(JSON.parse(JSON.stringify(schema)));
  });

  it('documents every cdc key and default the config accepts', () => {
    const committed = JSON.parse(readFileSync(path.join(schemasDir, 'cluster-config.schema.json'), 'utf8')) as {
      properties: { cdc: { properties: Record<string, { default?: unknown; properties?: Record<string, { default?: unknown }> }> } };
    };
    const cdc = committed.properties.cdc.properties;
    expect(cdc['compression']?.default).toBe('lz4');
    expect(cdc['snapshot']?.properties?.['maxRowsPerSecond']?.default).toBe(2000);
  });
});
