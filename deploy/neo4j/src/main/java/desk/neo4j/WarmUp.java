package desk.neo4j;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import java.net.ServerSocket;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.driver.AuthTokens;
import org.neo4j.driver.Driver;
import org.neo4j.driver.GraphDatabase;
import org.neo4j.driver.Session;

/**
 * Warms the JVM before the launcher reports READY: runs the shapes of the desk's graph
 * projection (portfolio/graph/projection.py) against a throwaway DBMS in a scratch
 * directory of this JVM, then deletes it. The desk's database is never touched.
 *
 * <p>A fresh JVM spends most of its first full projection compiling Neo4j's Cypher
 * runtime, kernel and record storage (C2 threads used more CPU than the query itself);
 * that code is shared by every DBMS in the JVM, so the desk's first resync after a
 * start runs on compiled code, as every later one does. Same statements and batch sizes
 * as the projection: UNWIND node CREATEs and SETs by unique key, relationship CREATEs between
 * looked-up ends, collect() reads, SETs, DELETEs, the grouped correlation-edge CREATE and
 * the cluster read.
 */
final class WarmUp {
    private static final int NODE_BATCH = 5000;
    private static final int EDGE_BATCH = 10000;

    private final Session session;
    private final Random rng = new Random(7);

    private WarmUp(Session session) {
        this.session = session;
    }

    /** Runs ``rounds`` projections of a book of the benchmark's shape into a scratch DBMS under ``dir``. */
    static void run(Path dir, int rounds, int instruments) throws IOException {
        deleteTree(dir);
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        // Over Bolt, like the desk: the server then decodes the same value classes and
        // runs the same code paths, so the compiled code fits the real traffic.
        DatabaseManagementService scratch = new DatabaseManagementServiceBuilder(dir)
                .setConfig(GraphDatabaseSettings.pagecache_memory, 32L * 1024 * 1024)
                .setConfig(GraphDatabaseSettings.keep_logical_logs, "false")
                .setConfig(GraphDatabaseSettings.auth_enabled, false)
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port))
                .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                .build();
        try (Driver driver = GraphDatabase.driver("bolt://127.0.0.1:" + port, AuthTokens.none());
                Session session = driver.session()) {
            WarmUp w = new WarmUp(session);
            w.schema();
            for (int round = 0; round < rounds; round++) {
                w.project(instruments, round);
            }
        } finally {
            scratch.shutdown();
            deleteTree(dir);
        }
        awaitCompilerQuiet();
    }

    /**
     * Waits (at most a minute) until the JIT has compiled what the warm-up queued: on a busy
     * machine the C2 queue lags the workload, and a backlog would land on the first resync.
     */
    private static void awaitCompilerQuiet() {
        var jit = java.lang.management.ManagementFactory.getCompilationMXBean();
        if (jit == null || !jit.isCompilationTimeMonitoringSupported()) {
            return;
        }
        long deadline = System.nanoTime() + 60_000_000_000L;
        long last = jit.getTotalCompilationTime();
        while (System.nanoTime() < deadline) {
            try {
                Thread.sleep(1000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            long now = jit.getTotalCompilationTime();
            if (now - last < 50) {
                return;
            }
            last = now;
        }
    }

    private void schema() {
        for (String label : List.of("Sector", "Venue", "Instrument", "Account", "Strategy", "Position")) {
            write("CREATE CONSTRAINT IF NOT EXISTS FOR (n:" + label + ") REQUIRE n.pk IS UNIQUE", Map.of());
        }
        write("CREATE CONSTRAINT IF NOT EXISTS FOR (n:AssetClass) REQUIRE n.code IS UNIQUE", Map.of());
        write("CREATE INDEX IF NOT EXISTS FOR ()-[e:CORRELATED_WITH]-() ON (e.rho)", Map.of());
        write("CALL db.awaitIndexes(60)", Map.of());
    }

    /** One full projection (round 0: into an empty graph; later rounds: moved values, stale and new rows). */
    private void project(int instruments, int round) {
        int sectors = 20;
        int positions = instruments * 10;
        nodes("Sector", range(sectors, i -> props("pk", i, "code", "s" + i, "name", "Sector " + i)));
        nodes("Instrument", range(instruments, i -> props("pk", i, "instrument_id", "I" + i + ".SIM",
                "symbol", "I" + i, "currency", "USD", "tradable", true)));
        rels("Instrument", "IN_SECTOR", "Sector", false, range(instruments, i -> List.of(i, i % sectors, Map.of())));
        nodes("Account", range(20, i -> props("pk", i, "name", "ACC-" + i, "status", "connected")));
        nodes("Strategy", range(50, i -> props("pk", i, "name", "S" + i, "status", "live")));
        List<List<Object>> holds = new ArrayList<>();
        for (long s = 0; s < 50; s++) {
            for (int k = 0; k < instruments / 5; k++) {
                holds.add(List.of(s, (long) rng.nextInt(instruments), props("quantity", String.valueOf(k + round),
                        "value", String.valueOf(k * 100 + round), "gross", "1", "currency", "USD")));
            }
        }
        rels("Strategy", "HOLDS", "Instrument", false, holds);
        nodes("Position", range(positions, i -> props("pk", i, "quantity", String.valueOf(i % 7 + round),
                "value", String.valueOf(i * 3), "side", "LONG")));
        rels("Position", "IN_INSTRUMENT", "Instrument", false,
                range(positions, i -> List.of(i, (long) rng.nextInt(instruments), Map.of())));
        rels("Position", "HAS_POSITION", "Account", true, range(positions, i -> List.of(i, i % 20, Map.of())));
        correlations(instruments, round);
        write("MATCH (a:Instrument)-[e:CORRELATED_WITH]->(b:Instrument) WHERE e.rho >= $t "
                + "WITH a, collect(b.pk) AS bs, min(e.rho) AS weakest "
                + "RETURN collect(a.pk), collect(bs), collect(weakest)", Map.of("t", 0.7));
        // Prune: a tenth of the positions, DETACH DELETEd by key.
        List<Object> stale = new ArrayList<>();
        for (long i = round % 10; i < positions; i += 10) {
            stale.add(i);
        }
        write("UNWIND $keys AS k MATCH (n:Position {pk: k}) DETACH DELETE n", Map.of("keys", stale));
    }

    private void correlations(int instruments, int round) {
        List<Object> pks = new ArrayList<>();
        for (long i = 0; i < instruments; i++) {
            pks.add(i);
        }
        write("MATCH (a:Instrument)-[e:CORRELATED_WITH]->(b:Instrument) WHERE a.pk IN $pks "
                + "RETURN collect(a.pk), collect(b.pk), collect(e.rho), collect(e.window), collect(e.basis)",
                Map.of("pks", pks));
        // About 100 edges per instrument, grouped by source: [a, [b...], [rho...]].
        List<List<Object>> groups = new ArrayList<>();
        List<List<Object>> moved = new ArrayList<>();
        List<List<Object>> stale = new ArrayList<>();
        int count = 0;
        for (long a = 0; a < instruments; a++) {
            List<Object> bs = new ArrayList<>();
            List<Object> rhos = new ArrayList<>();
            for (long b = a + 1 + round; b < instruments; b += 5) {
                bs.add(b);
                rhos.add(0.3 + rng.nextDouble() * 0.65);
                if (b % 50 == 0) {
                    moved.add(List.of(a, b, rng.nextDouble()));
                } else if (b % 49 == 0) {
                    stale.add(List.of(a, b));
                }
            }
            groups.add(List.of(a, bs, rhos));
            count += bs.size();
            if (count >= EDGE_BATCH) {
                createEdges(groups);
                groups = new ArrayList<>();
                count = 0;
            }
        }
        if (!groups.isEmpty()) {
            createEdges(groups);
        }
        write("UNWIND $rows AS r MATCH (a:Instrument {pk: r[0]})-[e:CORRELATED_WITH]->(b:Instrument {pk: r[1]}) "
                + "SET e.rho = r[2], e.window = $window, e.basis = $basis, e.computed_at = $now",
                Map.of("rows", moved, "window", 60L, "basis", "history", "now", ZonedDateTime.now(ZoneOffset.UTC)));
        write("UNWIND $rows AS r MATCH (a:Instrument {pk: r[0]})-[e:CORRELATED_WITH]->(b:Instrument {pk: r[1]}) DELETE e",
                Map.of("rows", stale));
    }

    private void createEdges(List<List<Object>> groups) {
        write("UNWIND $rows AS r MATCH (a:Instrument {pk: r[0]}) "
                + "UNWIND range(0, size(r[1]) - 1) AS k MATCH (b:Instrument {pk: r[1][k]}) "
                + "CREATE (a)-[:CORRELATED_WITH {rho: r[2][k], window: $window, basis: $basis, computed_at: $now}]->(b)",
                Map.of("rows", groups, "window", 60L, "basis", "history", "now", ZonedDateTime.now(ZoneOffset.UTC)));
    }

    private void nodes(String label, List<Map<String, Object>> rows) {
        List<Object> keys = new ArrayList<>();
        rows.forEach(r -> keys.add(r.get("pk")));
        boolean empty = session.run("MATCH (n:" + label + ") WHERE n.pk IN $keys RETURN collect(properties(n))",
                Map.of("keys", keys)).single().get(0).isEmpty();
        // The projection CREATEs the nodes it is missing and SETs the ones that differ.
        String statement = empty ? "UNWIND $rows AS p CREATE (n:" + label + ") SET n = p"
                : "UNWIND $rows AS p MATCH (n:" + label + " {pk: p.pk}) SET n = p";
        for (int start = 0; start < rows.size(); start += NODE_BATCH) {
            write(statement, Map.of("rows", rows.subList(start, Math.min(rows.size(), start + NODE_BATCH))));
        }
    }

    private void rels(String src, String rel, String dst, boolean incoming, List<List<Object>> rows) {
        String edge = incoming ? "(n)<-[e:" + rel + "]-(t)" : "(n)-[e:" + rel + "]->(t)";
        String pattern = incoming ? "(n:" + src + ")<-[e:" + rel + "]-(t:" + dst + ")"
                : "(n:" + src + ")-[e:" + rel + "]->(t:" + dst + ")";
        List<Object> keys = new ArrayList<>();
        rows.forEach(r -> keys.add(r.get(0)));
        write("MATCH " + pattern + " WHERE n.pk IN $keys RETURN collect(n.pk), collect(t.pk), collect(properties(e))",
                Map.of("keys", keys));
        String ends = "MATCH (n:" + src + " {pk: r[0]}) MATCH (t:" + dst + " {pk: r[1]})";
        for (int start = 0; start < rows.size(); start += EDGE_BATCH) {
            List<List<Object>> batch = rows.subList(start, Math.min(rows.size(), start + EDGE_BATCH));
            boolean bare = batch.stream().allMatch(r -> ((Map<?, ?>) r.get(2)).isEmpty());
            write("UNWIND $rows AS r " + ends + " CREATE " + edge + (bare ? "" : " SET e = r[2]"), Map.of("rows", batch));
            write("UNWIND $rows AS r " + ends + " MATCH " + edge + " SET e = r[2]", Map.of("rows", batch));
        }
    }

    private void write(String query, Map<String, Object> params) {
        session.run(query, params).list();
    }

    private interface Row<T> {
        T make(long i);
    }

    private static <T> List<T> range(int n, Row<T> row) {
        List<T> out = new ArrayList<>(n);
        for (long i = 0; i < n; i++) {
            out.add(row.make(i));
        }
        return out;
    }

    private static Map<String, Object> props(Object... kv) {
        Map<String, Object> out = new HashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            out.put((String) kv[i], kv[i + 1] instanceof Integer n ? (Object) (long) n : kv[i + 1]);
        }
        return out;
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
