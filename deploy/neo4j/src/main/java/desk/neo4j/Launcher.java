package desk.neo4j;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;

/**
 * Runs a Neo4j Community DBMS in this JVM with only its Bolt connector open, on a
 * loopback address: the desk's local graph store for development and tests.
 *
 * <pre>
 *   java -Xmx512m -cp 'classes:lib/*' desk.neo4j.Launcher \
 *        --home var/neo4j --port 7687 [--host 127.0.0.1] [--password SECRET] \
 *        [--pagecache-mb 64] [--parent-pid PID] [--warm-up-rounds N]
 * </pre>
 *
 * Without --password authentication is off: the server listens on loopback only,
 * like the desk's local Redis. Prints one line "READY bolt://host:port" once Bolt
 * accepts connections, so callers can wait for it. Stops cleanly on SIGTERM/SIGINT
 * and, with --parent-pid, when that process exits (a test run that dies must not
 * leave a JVM behind).
 *
 * <p>With --warm-up-rounds N (what `make run` and the benchmark use) the JVM, once READY,
 * runs N projections of a benchmark-sized book into a scratch DBMS in the background (see
 * {@link WarmUp}) and prints "WARMED" after them, so the desk's full resyncs stop paying for
 * the JIT compiling Neo4j within a couple of minutes of a start, without delaying the start.
 */
public final class Launcher {
    private Launcher() {}

    public static void main(String[] argv) throws Exception {
        Map<String, String> args = parse(argv);
        Path home = Path.of(args.getOrDefault("home", "var/neo4j")).toAbsolutePath();
        String host = args.getOrDefault("host", "127.0.0.1");
        int port = Integer.parseInt(args.getOrDefault("port", "7687"));
        String password = args.get("password");
        Files.createDirectories(home);

        // Small footprint: the machine is shared and the graph is a projection.
        DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(home)
                .setConfig(GraphDatabaseSettings.pagecache_memory, megabytes(args.getOrDefault("pagecache-mb", "64")))
                .setConfig(GraphDatabaseSettings.keep_logical_logs, "2 files")
                .setConfig(GraphDatabaseSettings.logical_log_rotation_threshold, megabytes("16"))
                .setConfig(GraphDatabaseSettings.transaction_timeout,
                        Duration.ofSeconds(Long.parseLong(args.getOrDefault("tx-timeout-s", "60"))))
                .setConfig(BoltConnector.thread_pool_max_size, 64)
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress(host, port))
                .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                .setConfig(GraphDatabaseSettings.auth_enabled, password != null)
                .build();

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            dbms.shutdown();
            stopped.countDown();
        }, "neo4j-shutdown"));

        if (password != null) {
            // The built-in user "neo4j" gets the given password; the system database
            // keeps it across restarts, so setting it again is a no-op.
            try (var tx = dbms.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME).beginTx()) {
                tx.execute("ALTER USER neo4j IF EXISTS SET PASSWORD $p CHANGE NOT REQUIRED", Map.of("p", password));
                tx.commit();
            }
        }
        // The default database must be online before we say we are ready.
        dbms.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME).isAvailable(Duration.ofSeconds(60).toMillis());

        String parent = args.get("parent-pid");
        if (parent != null) {
            ProcessHandle.of(Long.parseLong(parent)).ifPresentOrElse(
                    p -> p.onExit().thenRun(() -> System.exit(0)),
                    () -> System.exit(0));
        }
        System.out.println("READY bolt://" + host + ":" + port);
        System.out.flush();

        // The desk can connect now; the JIT warm-up runs beside it, in its own scratch DBMS, and
        // says "WARMED" when done (the benchmark waits for that line, nothing else does).
        int rounds = Integer.parseInt(args.getOrDefault("warm-up-rounds", "0"));
        if (rounds > 0) {
            Thread warmUp = new Thread(() -> {
                long started = System.nanoTime();
                try {
                    WarmUp.run(home.resolve("warm-up"), rounds,
                            Integer.parseInt(args.getOrDefault("warm-up-instruments", "1000")));
                    System.out.printf("WARMED %d round(s) in %.1fs%n", rounds, (System.nanoTime() - started) / 1e9);
                } catch (Exception e) {
                    System.out.println("WARM-UP FAILED " + e);  // the server keeps serving, only colder
                }
                System.out.flush();
            }, "desk-warm-up");
            warmUp.setDaemon(true);
            warmUp.start();
        }
        stopped.await();
    }

    private static Long megabytes(String mb) {
        return Long.parseLong(mb) * 1024L * 1024L;
    }

    private static Map<String, String> parse(String[] argv) {
        Map<String, String> out = new HashMap<>();
        for (int i = 0; i < argv.length; i++) {
            String a = argv[i];
            if (!a.startsWith("--") || i + 1 >= argv.length) {
                throw new IllegalArgumentException("usage: --home DIR --port N [--host H] [--password P] "
                        + "[--pagecache-mb N] [--tx-timeout-s N] [--parent-pid PID] [--warm-up-rounds N] "
                        + "[--warm-up-instruments N]; bad argument: " + a);
            }
            out.put(a.substring(2), argv[++i]);
        }
        return out;
    }
}
