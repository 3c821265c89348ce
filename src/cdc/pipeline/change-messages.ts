import type { CanonicalValue } from '../binlog/decoder/canonical-json.js';
import type { RowsEvent } from '../binlog/syncer/transaction-items.js';
import type { ChangeEvent } from '../events/change-event.js';
import { changeEvents } from '../events/change-event.js';
import { documentId } from '../events/document-id.js';
import type { OutboundMessage } from '../kafka/event-log.js';
import type { CaptureTarget } from './capture-rules.js';
import type { VersionEpoch } from '../events/source-version.js';

/** What turning rows into messages needs to know about the transaction and the server. */
export interface MessageContext {
  instance: string;
  flavour: 'mysql' | 'mariadb';
  serverUuid: string | null;
  gtid: string | null;
  commitUs: bigint | null;
  topicPrefix: string;
  /** How the server's positions become versions (absent: epoch 0). */
  epoch?: VersionEpoch;
  /** The rows event's deletes are the archival job's (its marker row came first in the transaction). */
  archival?: boolean;
}

/** The logical primary key of a row image (null when the table has none). */
export function primaryKeyOf(event: RowsEvent, image: Record<string, CanonicalValue> | null): string | null {
  const pk = event.table.primaryKey;
  if (!image || pk.length === 0) return null;
  return documentId(pk.map((i) => image[event.table.columns[i]!.name] ?? null));
}

/**
 * One Kafka message per changed row (pure): topic `<prefix><logical table>`, key = the logical
 * primary key, value = the change event as JSON. `rowBase` numbers rows that share a position
 * (the inner events of a compressed transaction payload).
 */
export function changeMessages(
  event: RowsEvent,
  target: CaptureTarget,
  ctx: MessageContext,
  rowBase: number,
  now = Date.now(),
): { messages: OutboundMessage[]; events: ChangeEvent[] } {
  const events = changeEvents(
    event,
    {
      instance: ctx.instance,
      flavour: ctx.flavour,
      serverUuid: ctx.serverUuid,
      gtid: ctx.gtid,
      commitUs: ctx.commitUs,
      topology: null,
      epoch: ctx.epoch,
    },
    now,
    rowBase,
  );
  const topic = `${ctx.topicPrefix}${target.logical}`;
  const messages = events.map((e): OutboundMessage => {
    e.source.logical_table = target.logical;
    e.source.shard = target.shard;
    if (ctx.archival && e.op === 'd') e.source.archival = true;
    const key = primaryKeyOf(event, e.op === 'd' ? e.before : e.after);
    const previous = e.op === 'u' ? primaryKeyOf(event, e.before) : null;
    return {
      topic,
      key,
      value: JSON.stringify(e),
      ...(previous !== null && previous !== key ? { headers: { previous_key: previous } } : {}),
    };
  });
  return { messages, events };
}
