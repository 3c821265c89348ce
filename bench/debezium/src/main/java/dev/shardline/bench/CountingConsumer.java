package dev.shardline.bench;

import io.debezium.engine.ChangeEvent;
import io.debezium.engine.DebeziumEngine;
import java.lang.management.ManagementFactory;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * The no-op sink: counts data change events (not heartbeats or schema changes), marks every record processed like a
 * real consumer, and releases {@link #done} when the target count is reached or, with {@code untilSnapshotLast}, when
 * the record Debezium flags as the snapshot's last one arrives. Timestamps and process CPU are taken on the engine's
 * consumer thread at the first batch and at the end.
 */
final class CountingConsumer implements DebeziumEngine.ChangeConsumer<ChangeEvent<String, String>> {
  private static final String SNAPSHOT_LAST = "\"snapshot\":\"last\"";
  private final String topicPrefix;
  private final long target;
  private final boolean untilSnapshotLast;
  private final com.sun.management.OperatingSystemMXBean os =
      (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

  final CountDownLatch done = new CountDownLatch(1);
  volatile long events;
  volatile long firstBatchEvents;
  volatile long firstNanos;
  volatile long firstCpuNanos;
  volatile long endNanos;
  volatile long endCpuNanos;
  volatile long otherRecords;

  CountingConsumer(String topicPrefix, long target, boolean untilSnapshotLast) {
    this.topicPrefix = topicPrefix;
    this.target = target;
    this.untilSnapshotLast = untilSnapshotLast;
  }

  long cpuNanos() {
    return os.getProcessCpuTime();
  }

  @Override
  public void handleBatch(List<ChangeEvent<String, String>> records, DebeziumEngine.RecordCommitter<ChangeEvent<String, String>> committer)
      throws InterruptedException {
    if (done.getCount() == 0) {
      return;
    }
    long n = events;
    boolean finished = false;
    for (ChangeEvent<String, String> record : records) {
      String value = record.value();
      String destination = record.destination();
      if (value == null || destination.equals(topicPrefix) || destination.startsWith("__debezium")) {
        otherRecords++;
      } else {
        n++;
        if (untilSnapshotLast ? value.contains(SNAPSHOT_LAST) : n >= target) {
          finished = true;
        }
      }
      committer.markProcessed(record);
    }
    committer.markBatchFinished();
    if (firstNanos == 0 && n > 0) {
      firstNanos = System.nanoTime();
      firstCpuNanos = cpuNanos();
      firstBatchEvents = n;
    }
    events = n;
    if (finished) {
      endNanos = System.nanoTime();
      endCpuNanos = cpuNanos();
      done.countDown();
    }
  }
}
