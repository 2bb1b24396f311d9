package corpgraph;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.neo4j.configuration.connectors.ConnectorPortRegister;
import org.neo4j.configuration.connectors.ConnectorType;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.internal.helpers.HostnamePort;
import org.neo4j.kernel.internal.GraphDatabaseAPI;

/**
 * A throwaway Neo4j Community server for corpgraph's test suite (never shipped with the package).
 *
 * Usage: java -Xmx768m -cp ... corpgraph.TestServer HOME_DIR
 *   HOME_DIR/neo4j.conf   settings written by the caller (Bolt on 127.0.0.1:0, auth on, memory limits);
 *   env NEO4J_TEST_PASSWORD  the password given to the `neo4j` user before Bolt is announced.
 * Writes HOME_DIR/bolt.uri ("bolt://127.0.0.1:PORT", by rename, so it is never seen half written) once Bolt
 * accepts the password, then serves until stdin closes or the process gets SIGTERM; both shut the databases
 * down cleanly. Stdin as the lifeline means a test run that dies (even by kill -9) leaves no JVM behind.
 */
public final class TestServer {
    private TestServer() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: corpgraph.TestServer HOME_DIR (with HOME_DIR/neo4j.conf)");
            System.exit(2);
        }
        String password = System.getenv("NEO4J_TEST_PASSWORD");
        if (password == null || password.length() < 8) {
            System.err.println("NEO4J_TEST_PASSWORD must be set (8 characters or more)");
            System.exit(2);
        }
        Path home = Path.of(args[0]).toAbsolutePath();
        Path conf = home.resolve("neo4j.conf");
        if (!Files.isRegularFile(conf)) {
            System.err.println("no settings file at " + conf);
            System.exit(2);
        }
        DatabaseManagementService service = new DatabaseManagementServiceBuilder(home)
                .loadPropertiesFromFile(conf)
                .build();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            service.shutdown();
            stopped.countDown();
        }, "corpgraph-neo4j-shutdown"));

        // Embedded access needs no credentials: set the password the tests use, with no forced change.
        GraphDatabaseAPI system = (GraphDatabaseAPI) service.database("system");
        system.executeTransactionally("ALTER USER neo4j SET PASSWORD $password CHANGE NOT REQUIRED",
                Map.of("password", password));
        HostnamePort bolt = system.getDependencyResolver().resolveDependency(ConnectorPortRegister.class)
                .getLocalAddress(ConnectorType.BOLT);
        if (bolt == null) {
            System.err.println("the Bolt connector did not start (is server.bolt.enabled=true?)");
            System.exit(3);
        }
        Path ready = home.resolve("bolt.uri.tmp");
        Files.writeString(ready, "bolt://" + bolt.getHost() + ":" + bolt.getPort());
        Files.move(ready, home.resolve("bolt.uri"), StandardCopyOption.ATOMIC_MOVE);

        waitForEndOfInput(System.in);
        System.exit(0);  // runs the shutdown hook
    }

    /** Block until stdin is closed by the parent (or the parent dies). */
    private static void waitForEndOfInput(InputStream in) throws IOException {
        byte[] buffer = new byte[256];
        while (in.read(buffer) >= 0) {
            // anything written is ignored; only end of input matters
        }
    }
}
