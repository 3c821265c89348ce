package dev.shardline.bench;

import io.debezium.engine.ChangeEvent;
import io.debezium.engine.DebeziumEngine;
import io.debezium.engine.format.Json;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.management.MBeanServer;
import javax.management.ObjectName;

/**
 * Debezium embedded (MySQL connector) into a no-op consumer, for shardline's side-by-side benchmarks.
 *
 * <pre>
 * java -cp 'classes:lib/*' dev.shardline.bench.DebeziumBench MODE --host H --port P --user U --tables db.t1,db.t2 [...]
 *   snapshot  initial snapshot of the tables (snapshot.mode=initial_only, fresh history), stop after its last record
 *   prepare   snapshot.mode=no_data with the file offset store: records a baseline (offsets + schema history) in --dir
 *   stream    from a copy of the baseline in --dir, read the binlog until --events data events arrived
 * Options: --server-id N, --timeout-s S (600), --schemas true|false (JSON schema envelope, default true),
 *   --snapshot-threads N (1), --public-key FILE (the server's RSA key; otherwise it is retrieved from the server).
 * The password comes from the environment variable DEBEZIUM_BENCH_PASSWORD (never on the command line).
 * </pre>
 *
 * Last stdout line: one JSON object {mode, rows, seconds, rows_per_s, cpu_seconds, cpu_us_per_row, wall_seconds,
 * startup_seconds, steady_rows_per_s}. snapshot: seconds and cpu_seconds span the engine's start to the snapshot's last record (locks and
 * schema reading included). stream: they span the first delivered batch to the last event, and rows_per_s counts the
 * events after that first batch (connecting and recovering the schema history are left out); steady_rows_per_s is that rate in both modes. Exit 1 on failure, 2 on
 * timeout, 64 on bad arguments.
 */
public final class DebeziumBench {
  private static final String TOPIC_PREFIX = "shardline_bench";
  /** mysql-binlog-connector-java logs through java.util.logging at INFO on every connect. */
  private static final Logger BINLOG_CLIENT_LOG = Logger.getLogger("com.github.shyiko.mysql.binlog");

  private DebeziumBench() {}

  public static void main(String[] argv) {
    try {
      runMode(argv);
    } catch (Throwable e) {
      fail("failed: " + e, 1);
    }
  }

  private static void runMode(String[] argv) throws Exception {
    if (argv.length == 0) {
      usage("missing mode");
    }
    String mode = argv[0];
    BINLOG_CLIENT_LOG.setLevel(Level.WARNING);
    Map<String, String> opts = parseOptions(argv);
    List<String> tables = splitTables(require(opts, "tables"));
    Path tmp = Files.createTempDirectory("debezium-bench-");
    Properties props = baseProperties(opts, tables, tmp);
    switch (mode) {
      case "snapshot" -> {
        props.setProperty("snapshot.mode", "initial_only");
        props.setProperty("offset.storage", "org.apache.kafka.connect.storage.MemoryOffsetBackingStore");
        props.setProperty("schema.history.internal.file.filename", tmp.resolve("history.dat").toString());
        run("snapshot", props, new CountingConsumer(TOPIC_PREFIX, Long.MAX_VALUE, true), opts, false);
      }
      case "prepare" -> {
        Path dir = Path.of(require(opts, "dir"));
        Files.createDirectories(dir);
        Files.deleteIfExists(dir.resolve("offsets.dat"));
        Files.deleteIfExists(dir.resolve("history.dat"));
        useFileStores(props, dir);
        props.setProperty("snapshot.mode", "no_data");
        props.setProperty("include.schema.changes", "true");
        props.setProperty("heartbeat.interval.ms", "100");
        run("prepare", props, new CountingConsumer(TOPIC_PREFIX, Long.MAX_VALUE, false), opts, true);
      }
      case "stream" -> {
        Path dir = Path.of(require(opts, "dir"));
        for (String file : List.of("offsets.dat", "history.dat")) {
          if (!Files.exists(dir.resolve(file))) {
            fail("no baseline in " + dir + " (missing " + file + "): run the prepare mode first", 64);
          }
          Files.copy(dir.resolve(file), tmp.resolve(file), StandardCopyOption.REPLACE_EXISTING);
        }
        useFileStores(props, tmp);
        props.setProperty("snapshot.mode", "no_data");
        long events = Long.parseLong(require(opts, "events"));
        run("stream", props, new CountingConsumer(TOPIC_PREFIX, events, false), opts, false);
      }
      default -> usage("unknown mode " + mode);
    }
  }

  private static void run(String mode, Properties props, CountingConsumer consumer, Map<String, String> opts, boolean untilStreaming)
      throws Exception {
    long timeoutNanos = TimeUnit.SECONDS.toNanos(Long.parseLong(opts.getOrDefault("timeout-s", "600")));
    AtomicReference<String> failure = new AtomicReference<>();
    DebeziumEngine<ChangeEvent<String, String>> engine = DebeziumEngine.create(Json.class)
        .using(props)
        .notifying(consumer)
        .using((success, message, error) -> {
          if (!success) {
            failure.compareAndSet(null, message + (error == null ? "" : ": " + error));
          }
          consumer.done.countDown();
        })
        .build();
    ExecutorService executor = Executors.newSingleThreadExecutor();
    long startNanos = System.nanoTime();
    long startCpu = consumer.cpuNanos();
    executor.execute(engine);
    long deadline = startNanos + timeoutNanos;
    boolean reached = untilStreaming
        ? awaitStreaming(consumer, deadline, failure)
        : mode.equals("snapshot") ? awaitSnapshot(consumer, deadline) : consumer.done.await(timeoutNanos, TimeUnit.NANOSECONDS);
    try {
      engine.close();
    } catch (IllegalStateException alreadyStopped) {
      // the engine stopped on its own (a failure, reported through the completion callback)
    }
    executor.shutdown();
    executor.awaitTermination(30, TimeUnit.SECONDS);
    if (failure.get() != null) {
      fail("Debezium stopped: " + failure.get(), 1);
    }
    if (!reached) {
      fail(mode + ": timed out after " + consumer.events + " events", 2);
    }
    if (untilStreaming) {
      String stored = Files.readString(Path.of(props.getProperty("offset.storage.file.filename")), StandardCharsets.ISO_8859_1);
      Matcher offset = Pattern.compile("\\{\"ts_sec\"[^}]*\\}").matcher(stored);
      String last = null;
      while (offset.find()) {
        last = offset.group();
      }
      if (last == null) {
        fail("prepare: no binlog offset was committed to " + props.getProperty("offset.storage.file.filename"), 1);
      }
      System.out.println("{\"mode\":\"prepare\",\"offset\":" + last + "}");
      System.exit(0);
    }
    if (consumer.endNanos == 0) {
      fail(mode + ": the engine stopped after " + consumer.events + " events before the end was reached", 1);
    }
    boolean snapshot = mode.equals("snapshot");
    long spanStart = snapshot ? startNanos : consumer.firstNanos;
    long cpuStart = snapshot ? startCpu : consumer.firstCpuNanos;
    long rows = snapshot ? consumer.events : consumer.events - consumer.firstBatchEvents;
    double seconds = (consumer.endNanos - spanStart) / 1e9;
    double cpuSeconds = (consumer.endCpuNanos - cpuStart) / 1e9;
    System.out.println(String.format(Locale.ROOT,
        "{\"mode\":\"%s\",\"rows\":%d,\"events\":%d,\"seconds\":%.4f,\"rows_per_s\":%.1f,\"cpu_seconds\":%.4f,\"cpu_us_per_row\":%.2f,"
            + "\"wall_seconds\":%.4f,\"startup_seconds\":%.4f,\"steady_rows_per_s\":%.1f}",
        mode, rows, consumer.events, seconds, rows / seconds, cpuSeconds, rows == 0 ? 0 : cpuSeconds * 1e6 / rows,
        (consumer.endNanos - startNanos) / 1e9, (consumer.firstNanos - startNanos) / 1e9,
        consumer.endNanos == consumer.firstNanos ? 0 : (consumer.events - consumer.firstBatchEvents) * 1e9 / (consumer.endNanos - consumer.firstNanos)));
    System.exit(0);
  }

  /**
   * snapshot: done at the record flagged "last"; tables without rows have none, so a snapshot Debezium reports complete
   * (JMX SnapshotCompleted) with no record delivered 2 s later ends with 0 rows.
   */
  private static boolean awaitSnapshot(CountingConsumer consumer, long deadline) throws Exception {
    MBeanServer server = ManagementFactory.getPlatformMBeanServer();
    ObjectName pattern = new ObjectName("debezium.mysql:type=connector-metrics,context=snapshot,*");
    long completedAt = 0;
    while (System.nanoTime() < deadline) {
      if (consumer.done.await(50, TimeUnit.MILLISECONDS)) {
        return true;
      }
      for (ObjectName name : server.queryNames(pattern, null)) {
        if (completedAt == 0 && Boolean.TRUE.equals(server.getAttribute(name, "SnapshotCompleted"))) {
          completedAt = System.nanoTime();
        }
      }
      if (completedAt != 0 && consumer.events == 0 && System.nanoTime() - completedAt > 2_000_000_000L) {
        consumer.endNanos = completedAt;
        consumer.endCpuNanos = consumer.cpuNanos();
        consumer.firstNanos = completedAt;
        return true;
      }
    }
    return false;
  }

  /** prepare: done once the streaming source is connected and every record before it (schema changes) was committed. */
  private static boolean awaitStreaming(CountingConsumer consumer, long deadline, AtomicReference<String> failure) throws Exception {
    MBeanServer server = ManagementFactory.getPlatformMBeanServer();
    ObjectName pattern = new ObjectName("debezium.mysql:type=connector-metrics,context=streaming,*");
    while (System.nanoTime() < deadline && failure.get() == null && consumer.done.getCount() > 0) {
      for (ObjectName name : server.queryNames(pattern, null)) {
        if (Boolean.TRUE.equals(server.getAttribute(name, "Connected")) && consumer.otherRecords > 0) {
          Thread.sleep(1500);
          return true;
        }
      }
      Thread.sleep(50);
    }
    return false;
  }

  private static Properties baseProperties(Map<String, String> opts, List<String> tables, Path tmp) {
    String password = System.getenv("DEBEZIUM_BENCH_PASSWORD");
    Set<String> databases = new LinkedHashSet<>();
    List<String> patterns = new ArrayList<>();
    for (String table : tables) {
      databases.add(table.substring(0, table.indexOf('.')));
      patterns.add(table.replace(".", "\\."));
    }
    Properties p = new Properties();
    p.setProperty("name", "shardline-debezium-bench");
    p.setProperty("connector.class", "io.debezium.connector.mysql.MySqlConnector");
    p.setProperty("topic.prefix", TOPIC_PREFIX);
    p.setProperty("database.hostname", require(opts, "host"));
    p.setProperty("database.port", require(opts, "port"));
    p.setProperty("database.user", require(opts, "user"));
    p.setProperty("database.password", password == null ? "" : password);
    p.setProperty("database.server.id", opts.getOrDefault("server-id", String.valueOf(4_250_000_000L + ProcessHandle.current().pid() % 1000)));
    p.setProperty("database.ssl.mode", "disabled");
    if (opts.containsKey("public-key")) {
      p.setProperty("driver.serverRSAPublicKeyFile", opts.get("public-key"));
    } else {
      p.setProperty("driver.allowPublicKeyRetrieval", "true");
    }
    p.setProperty("database.include.list", String.join(",", databases));
    p.setProperty("table.include.list", String.join(",", patterns));
    p.setProperty("include.schema.changes", "false");
    p.setProperty("tombstones.on.delete", "false");
    p.setProperty("snapshot.max.threads", opts.getOrDefault("snapshot-threads", "1"));
    p.setProperty("schema.history.internal", "io.debezium.storage.file.history.FileSchemaHistory");
    p.setProperty("schema.history.internal.store.only.captured.tables.ddl", "true");
    p.setProperty("converter.schemas.enable", opts.getOrDefault("schemas", "true"));
    p.setProperty("offset.flush.interval.ms", "1000");
    return p;
  }

  private static void useFileStores(Properties p, Path dir) {
    p.setProperty("offset.storage", "org.apache.kafka.connect.storage.FileOffsetBackingStore");
    p.setProperty("offset.storage.file.filename", dir.resolve("offsets.dat").toString());
    p.setProperty("offset.flush.interval.ms", "0");
    p.setProperty("schema.history.internal.file.filename", dir.resolve("history.dat").toString());
  }

  private static Map<String, String> parseOptions(String[] argv) {
    Map<String, String> opts = new HashMap<>();
    for (int i = 1; i < argv.length; i += 2) {
      if (!argv[i].startsWith("--") || i + 1 >= argv.length) {
        usage("bad option " + argv[i]);
      }
      opts.put(argv[i].substring(2), argv[i + 1]);
    }
    return opts;
  }

  private static List<String> splitTables(String list) {
    List<String> tables = new ArrayList<>();
    for (String t : list.split(",")) {
      String table = t.trim();
      if (!table.matches("[A-Za-z0-9_$]+\\.[A-Za-z0-9_$]+")) {
        usage("a table must be db.table: " + table);
      }
      tables.add(table);
    }
    return tables;
  }

  private static String require(Map<String, String> opts, String key) {
    String v = opts.get(key);
    if (v == null || v.isEmpty()) {
      usage("missing --" + key);
    }
    return v;
  }

  private static void usage(String message) {
    fail(message + " (usage: snapshot|prepare|stream --host H --port P --user U --tables db.t,… [--dir D] [--events N])", 64);
  }

  private static void fail(String message, int code) {
    System.out.flush();
    System.err.println("debezium-bench: " + message);
    System.exit(code);
  }
}
