package nimbus.spark;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import javax.xml.parsers.DocumentBuilderFactory;

import org.apache.hadoop.conf.Configuration;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Asks Nimbus whether the step's role may do what the file system is about to do, as S3 would
 * authorize the call of the same kind: {@code GET /_nimbus/s3/authorize}, signed (SigV4) with the role's
 * temporary credentials, which come from the container credentials endpoint with the step's grant (the
 * file {@code fs.nimbus.credentials.token-file}). A denial is Hadoop's AccessDeniedException with S3's
 * message. Decisions are kept per action and path for {@link #DECISION_TTL} in this JVM (one step's
 * driver or executor), so a path is asked about once a step, unless the step outlives that.
 */
final class NimbusObjectAccess {
    static final Duration DECISION_TTL = Duration.ofMinutes(5);
    private static final Duration REFRESH_BEFORE_EXPIRY = Duration.ofMinutes(5);
    private static final Duration TIMEOUT = Duration.ofSeconds(30);
    private static final String EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    private static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'")
            .withZone(ZoneOffset.UTC);
    // one per JVM and endpoint: every bucket's file system instance shares the decisions and credentials
    private static final Map<String, NimbusObjectAccess> BY_ENDPOINT = new ConcurrentHashMap<>();

    private final URI authorize;
    private final URI credentialsUri;
    private final String tokenFile;
    private final String region;
    private final HttpClient http;
    private final Map<String, Decision> decisions = new ConcurrentHashMap<>();
    private volatile Credentials credentials;

    private record Decision(String denial, Instant until) {
    }

    private record Credentials(String accessKeyId, String secretAccessKey, String token, Instant expiration) {
    }

    /** The authorization of this JVM's steps, or null when Nimbus set none (a cluster without a role). */
    static NimbusObjectAccess of(Configuration conf) throws IOException {
        String endpoint = conf.get("fs.nimbus.authorization.endpoint");
        if (endpoint == null) {
            return null;
        }
        String tokenFile = conf.get("fs.nimbus.credentials.token-file", "");
        String key = endpoint + " " + tokenFile;
        NimbusObjectAccess found = BY_ENDPOINT.get(key);
        if (found == null) {
            found = new NimbusObjectAccess(endpoint, tokenFile, conf.get("fs.nimbus.authorization.region",
                    "us-east-1"), conf.get("fs.nimbus.ca-bundle", ""));
            NimbusObjectAccess raced = BY_ENDPOINT.putIfAbsent(key, found);
            found = raced == null ? found : raced;
        }
        return found;
    }

    private NimbusObjectAccess(String endpoint, String tokenFile, String region, String caBundle)
            throws IOException {
        this.authorize = URI.create(endpoint + "/_nimbus/s3/authorize");
        this.credentialsUri = URI.create(endpoint + "/_nimbus/credentials");
        this.tokenFile = tokenFile;
        this.region = region;
        HttpClient.Builder builder = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(TIMEOUT);
        if (!caBundle.isEmpty()) {
            builder.sslContext(trusting(caBundle));
        }
        this.http = builder.build();
    }

    /** Raises AccessDeniedException unless the role may act on the object {@code bucket/key}. */
    void checkObject(String action, String bucket, String key, String path) throws IOException {
        check(path, "action", action, "bucket", bucket, "key", key);
    }

    /** Raises AccessDeniedException unless the role may list the bucket under {@code prefix}. */
    void checkListing(String bucket, String prefix, String path) throws IOException {
        if (prefix.isEmpty()) {
            check(path, "action", "ListBucket", "bucket", bucket, "delimiter", "/");
        } else {
            check(path, "action", "ListBucket", "bucket", bucket, "delimiter", "/", "prefix", prefix);
        }
    }

    private void check(String path, String... parameters) throws IOException {
        TreeMap<String, String> query = new TreeMap<>();
        for (int index = 0; index < parameters.length; index += 2) {
            query.put(parameters[index], parameters[index + 1]);
        }
        String asked = query.toString();
        Decision known = decisions.get(asked);
        if (known == null || Instant.now().isAfter(known.until())) {
            known = new Decision(ask(query, path), Instant.now().plus(DECISION_TTL));
            decisions.put(asked, known);
        }
        if (known.denial() != null) {
            throw new AccessDeniedException(path, null, known.denial());
        }
    }

    /** Null when allowed; S3's message when denied. */
    private String ask(TreeMap<String, String> query, String path) throws IOException {
        StringBuilder canonicalQuery = new StringBuilder();
        for (Map.Entry<String, String> entry : query.entrySet()) {
            canonicalQuery.append(canonicalQuery.length() == 0 ? "" : "&").append(encode(entry.getKey()))
                    .append('=').append(encode(entry.getValue()));
        }
        Credentials role = credentials(path);
        String stamp = STAMP.format(Instant.now());
        String date = stamp.substring(0, 8);
        String host = authorize.getHost() + (authorize.getPort() == -1 ? "" : ":" + authorize.getPort());
        String signedHeaders = "host;x-amz-content-sha256;x-amz-date;x-amz-security-token";
        String canonicalRequest = String.join("\n", "GET", authorize.getRawPath(), canonicalQuery,
                "host:" + host, "x-amz-content-sha256:" + EMPTY_SHA256, "x-amz-date:" + stamp,
                "x-amz-security-token:" + role.token(), "", signedHeaders, EMPTY_SHA256);
        String scope = date + "/" + region + "/s3/aws4_request";
        String toSign = String.join("\n", "AWS4-HMAC-SHA256", stamp, scope, hex(sha256(canonicalRequest)));
        byte[] key = ("AWS4" + role.secretAccessKey()).getBytes(StandardCharsets.UTF_8);
        for (String part : new String[] {date, region, "s3", "aws4_request"}) {
            key = hmac(key, part);
        }
        String authorization = "AWS4-HMAC-SHA256 Credential=" + role.accessKeyId() + "/" + scope
                + ", SignedHeaders=" + signedHeaders + ", Signature=" + hex(hmac(key, toSign));
        HttpRequest request = HttpRequest.newBuilder(URI.create(authorize + "?" + canonicalQuery))
                .timeout(TIMEOUT).GET().header("Authorization", authorization)
                .header("x-amz-content-sha256", EMPTY_SHA256).header("x-amz-date", stamp)
                .header("x-amz-security-token", role.token()).build();
        HttpResponse<byte[]> response = send(request);
        if (response.statusCode() == 200) {
            return null;
        }
        return errorMessage(response.body());
    }

    /** The role's credentials, fetched again within five minutes of their expiry; without them, access to {@code path} is denied. */
    private Credentials credentials(String path) throws IOException {
        Credentials held = credentials;
        if (held != null && Instant.now().plus(REFRESH_BEFORE_EXPIRY).isBefore(held.expiration())) {
            return held;
        }
        if (tokenFile.isEmpty() || !Files.isReadable(Paths.get(tokenFile))) {
            throw new AccessDeniedException(path, null, "the step has no credentials of its cluster's "
                    + "JobFlowRole (see the step's controller log): it may not read or write S3 objects");
        }
        String grant = Files.readString(Paths.get(tokenFile)).strip();
        HttpResponse<byte[]> response = send(HttpRequest.newBuilder(credentialsUri).timeout(TIMEOUT).GET()
                .header("Authorization", grant).build());
        JsonNode body = new ObjectMapper().readTree(response.body());
        if (response.statusCode() != 200) {
            throw new AccessDeniedException(path, null,
                    "no credentials of the cluster's JobFlowRole: " + body.path("message").asText());
        }
        held = new Credentials(body.path("AccessKeyId").asText(), body.path("SecretAccessKey").asText(),
                body.path("Token").asText(), Instant.parse(body.path("Expiration").asText()));
        credentials = held;
        return held;
    }

    private HttpResponse<byte[]> send(HttpRequest request) throws IOException {
        try {
            return http.send(request, HttpResponse.BodyHandlers.ofByteArray());
        } catch (InterruptedException interrupted) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while asking Nimbus " + request.uri());
        }
    }

    /** The Message of S3's XML error (AccessDenied, or a signature error), else the whole answer. */
    private static String errorMessage(byte[] body) {
        try {
            var document = DocumentBuilderFactory.newInstance().newDocumentBuilder()
                    .parse(new ByteArrayInputStream(body));
            String code = document.getElementsByTagName("Code").item(0).getTextContent();
            String message = document.getElementsByTagName("Message").item(0).getTextContent();
            return "AccessDenied".equals(code) ? message : code + ": " + message;
        } catch (Exception unreadable) { // not S3's error shape: say what came back
            return new String(body, StandardCharsets.UTF_8);
        }
    }

    private static SSLContext trusting(String caBundle) throws IOException {
        try (var pem = Files.newInputStream(Paths.get(caBundle))) {
            KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
            store.load(null, null);
            int index = 0;
            for (Certificate certificate : CertificateFactory.getInstance("X.509").generateCertificates(pem)) {
                store.setCertificateEntry("nimbus-" + index++, certificate);
            }
            TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            trust.init(store);
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, trust.getTrustManagers(), null);
            return context;
        } catch (GeneralSecurityException error) {
            throw new IOException("cannot trust the CA bundle " + caBundle + ": " + error, error);
        }
    }

    /** SigV4's URI encoding: every byte but the unreserved characters, spaces as %20. */
    private static String encode(String text) {
        return URLEncoder.encode(text, StandardCharsets.UTF_8).replace("+", "%20").replace("*", "%2A")
                .replace("%7E", "~");
    }

    private static byte[] sha256(String text) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
        } catch (GeneralSecurityException impossible) {
            throw new IllegalStateException(impossible);
        }
    }

    private static byte[] hmac(byte[] key, String text) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            return mac.doFinal(text.getBytes(StandardCharsets.UTF_8));
        } catch (GeneralSecurityException impossible) {
            throw new IllegalStateException(impossible);
        }
    }

    private static String hex(byte[] bytes) {
        return HexFormat.of().formatHex(bytes);
    }
}
