package nimbus.spark;

import java.io.ByteArrayInputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
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
import org.w3c.dom.Document;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Nimbus's S3 API over HTTP (path-style), each request signed (SigV4, payload hashed) with the
 * temporary credentials of the step's role: they come from the container credentials endpoint with
 * the step's grant (the file {@code fs.nimbus.credentials.token-file}) and are fetched again five
 * minutes before they expire. S3's errors become Hadoop's exceptions: AccessDenied (and any other 403)
 * java.nio.file.AccessDeniedException with S3's message, NoSuchKey and NoSuchBucket
 * FileNotFoundException, anything else an IOException naming the code. One client per JVM and endpoint.
 */
final class NimbusS3Client {
    static final String EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    private static final Duration REFRESH_BEFORE_EXPIRY = Duration.ofMinutes(5);
    private static final Duration TIMEOUT = Duration.ofSeconds(60);
    private static final int ATTEMPTS = 3; // a connection reset or a 500/503 is tried again
    private static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'")
            .withZone(ZoneOffset.UTC);
    private static final Map<String, NimbusS3Client> BY_ENDPOINT = new ConcurrentHashMap<>();

    private final String endpoint;
    private final URI credentialsUri;
    private final String tokenFile;
    private final String region;
    private final HttpClient http;
    private volatile Credentials credentials;

    private record Credentials(String accessKeyId, String secretAccessKey, String token, Instant expiration) {
    }

    /** An S3 request: method, object key ("" for the bucket), query, extra headers and body. */
    record Call(String method, String bucket, String key, Map<String, String> query, Map<String, String> headers,
            byte[] body) {
        Call(String method, String bucket, String key) {
            this(method, bucket, key, Map.of(), Map.of(), null);
        }
    }

    static NimbusS3Client of(Configuration conf) throws IOException {
        String endpoint = conf.get("fs.nimbus.s3.endpoint");
        if (endpoint == null) {
            throw new IOException("fs.nimbus.s3.endpoint is not set: Nimbus sets it for the steps it runs");
        }
        String tokenFile = conf.get("fs.nimbus.credentials.token-file", "");
        String key = endpoint + " " + tokenFile;
        NimbusS3Client found = BY_ENDPOINT.get(key);
        if (found == null) {
            found = new NimbusS3Client(endpoint, tokenFile, conf.get("fs.nimbus.s3.region", "us-east-1"),
                    conf.get("fs.nimbus.ca-bundle", ""));
            NimbusS3Client raced = BY_ENDPOINT.putIfAbsent(key, found);
            found = raced == null ? found : raced;
        }
        return found;
    }

    private NimbusS3Client(String endpoint, String tokenFile, String region, String caBundle) throws IOException {
        this.endpoint = endpoint.replaceFirst("/+$", "");
        this.credentialsUri = URI.create(this.endpoint + "/_nimbus/credentials");
        this.tokenFile = tokenFile;
        this.region = region;
        HttpClient.Builder builder = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(TIMEOUT);
        if (!caBundle.isEmpty()) {
            builder.sslContext(trusting(caBundle));
        }
        this.http = builder.build();
    }

    /** The answer with its body unread (close it); S3's error, as Hadoop's exception, for a status >= 300. */
    HttpResponse<InputStream> stream(Call call, String path) throws IOException {
        HttpResponse<InputStream> response = send(call, path);
        if (response.statusCode() >= 300) {
            byte[] body;
            try (InputStream in = response.body()) {
                body = in.readAllBytes();
            }
            throw failure(response.statusCode(), body, call, path);
        }
        return response;
    }

    /** The whole answer's body; S3's error, as Hadoop's exception, for a status >= 300 (or an Error body). */
    byte[] call(Call call, String path) throws IOException {
        HttpResponse<InputStream> response = send(call, path);
        byte[] body;
        try (InputStream in = response.body()) {
            body = in.readAllBytes();
        }
        // CompleteMultipartUpload and CopyObject may answer 200 with an Error
        if (response.statusCode() >= 300 || startsWithError(body)) {
            throw failure(response.statusCode(), body, call, path);
        }
        return body;
    }

    /** The status and headers of a HEAD (its 403 and 404 carry no body: the caller says why). */
    HttpResponse<InputStream> head(String bucket, String key, String path) throws IOException {
        HttpResponse<InputStream> response = send(new Call("HEAD", bucket, key), path);
        response.body().close();
        return response;
    }

    private HttpResponse<InputStream> send(Call call, String path) throws IOException {
        for (int attempt = 1;; attempt++) {
            HttpResponse<InputStream> response;
            try {
                response = http.send(signed(call, path), HttpResponse.BodyHandlers.ofInputStream());
            } catch (InterruptedException interrupted) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while calling Nimbus S3 for " + path);
            } catch (IOException unreachable) {
                // a POST (CompleteMultipartUpload, DeleteObjects) cut off may have been done: sent again,
                // a finished upload would answer NoSuchUpload, so it fails here with the cause instead
                if (attempt == ATTEMPTS || call.method().equals("POST")) {
                    throw unreachable;
                }
                pause(attempt);
                continue;
            }
            int status = response.statusCode();
            if ((status != 500 && status != 503) || attempt == ATTEMPTS) {
                return response;
            }
            response.body().close();
            pause(attempt);
        }
    }

    private HttpRequest signed(Call call, String path) throws IOException {
        Credentials role = credentials(path);
        String rawPath = "/" + encode(call.bucket(), false) + (call.key().isEmpty() ? "" : "/" + encode(call.key(), true));
        StringBuilder query = new StringBuilder();
        for (Map.Entry<String, String> entry : new TreeMap<>(call.query()).entrySet()) {
            query.append(query.length() == 0 ? "" : "&").append(encode(entry.getKey(), false)).append('=')
                    .append(encode(entry.getValue(), false));
        }
        String stamp = STAMP.format(Instant.now());
        String date = stamp.substring(0, 8);
        URI uri = URI.create(endpoint + rawPath + (query.length() == 0 ? "" : "?" + query));
        TreeMap<String, String> headers = new TreeMap<>();
        for (Map.Entry<String, String> entry : call.headers().entrySet()) {
            headers.put(entry.getKey().toLowerCase(java.util.Locale.ROOT), entry.getValue());
        }
        headers.put("host", uri.getHost() + (uri.getPort() == -1 ? "" : ":" + uri.getPort()));
        headers.put("x-amz-content-sha256", call.body() == null ? EMPTY_SHA256 : hex(sha256(call.body())));
        headers.put("x-amz-date", stamp);
        headers.put("x-amz-security-token", role.token());
        StringBuilder canonicalHeaders = new StringBuilder();
        for (Map.Entry<String, String> entry : headers.entrySet()) {
            canonicalHeaders.append(entry.getKey()).append(':').append(entry.getValue().strip()).append('\n');
        }
        String signedHeaders = String.join(";", headers.keySet());
        String canonicalRequest = String.join("\n", call.method(), rawPath, query, canonicalHeaders.toString(),
                signedHeaders, headers.get("x-amz-content-sha256"));
        String scope = date + "/" + region + "/s3/aws4_request";
        String toSign = String.join("\n", "AWS4-HMAC-SHA256", stamp, scope,
                hex(sha256(canonicalRequest.getBytes(StandardCharsets.UTF_8))));
        byte[] key = ("AWS4" + role.secretAccessKey()).getBytes(StandardCharsets.UTF_8);
        for (String part : new String[] {date, region, "s3", "aws4_request"}) {
            key = hmac(key, part);
        }
        HttpRequest.Builder request = HttpRequest.newBuilder(uri).timeout(TIMEOUT)
                .method(call.method(), call.body() == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofByteArray(call.body()))
                .header("Authorization", "AWS4-HMAC-SHA256 Credential=" + role.accessKeyId() + "/" + scope
                        + ", SignedHeaders=" + signedHeaders + ", Signature=" + hex(hmac(key, toSign)));
        headers.remove("host"); // the client sends it, as signed
        headers.forEach(request::header);
        return request.build();
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
        HttpResponse<byte[]> response;
        try {
            response = http.send(HttpRequest.newBuilder(credentialsUri).timeout(TIMEOUT).GET()
                    .header("Authorization", grant).build(), HttpResponse.BodyHandlers.ofByteArray());
        } catch (InterruptedException interrupted) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while fetching the role's credentials");
        }
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

    /** S3's error as Hadoop's exception for {@code path}. */
    static IOException failure(int status, byte[] body, Call call, String path) {
        String code = "";
        String message = new String(body, StandardCharsets.UTF_8).strip();
        try {
            Document error = xml(body);
            code = text(error, "Code");
            message = text(error, "Message");
        } catch (IOException notS3Error) { // not S3's error shape: say what came back
            message = message.isEmpty() ? "HTTP " + status : message;
        }
        if (status == 403 || code.equals("AccessDenied")) {
            return new AccessDeniedException(path, null, code.equals("AccessDenied") || code.isEmpty() ? message
                    : code + ": " + message);
        }
        if (status == 404 || code.equals("NoSuchKey") || code.equals("NoSuchBucket")) {
            return new FileNotFoundException(path + ": " + (code.isEmpty() ? "" : code + ": ") + message);
        }
        return new IOException(path + ": " + call.method() + " answered " + status + " " + code + ": " + message);
    }

    static Document xml(byte[] body) throws IOException {
        try {
            DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
            factory.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
            return factory.newDocumentBuilder().parse(new ByteArrayInputStream(body));
        } catch (Exception unreadable) {
            throw new IOException("not an XML answer: " + new String(body, StandardCharsets.UTF_8), unreadable);
        }
    }

    /** The text of the first element named {@code name} ("" when there is none). */
    static String text(Document document, String name) {
        var found = document.getElementsByTagName(name);
        return found.getLength() == 0 ? "" : found.item(0).getTextContent();
    }

    private static boolean startsWithError(byte[] body) {
        String start = new String(body, 0, Math.min(body.length, 200), StandardCharsets.UTF_8);
        return start.contains("<Error>");
    }

    private static void pause(int attempt) throws InterruptedIOException {
        try {
            Thread.sleep(200L * attempt);
        } catch (InterruptedException interrupted) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting to call Nimbus S3 again");
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

    /** SigV4's URI encoding: every byte but the unreserved characters (and "/" in a key's path). */
    static String encode(String text, boolean keepSlash) {
        String encoded = URLEncoder.encode(text, StandardCharsets.UTF_8).replace("+", "%20").replace("*", "%2A")
                .replace("%7E", "~");
        return keepSlash ? encoded.replace("%2F", "/") : encoded;
    }

    static byte[] sha256(byte[] bytes) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(bytes);
        } catch (GeneralSecurityException impossible) {
            throw new IllegalStateException(impossible);
        }
    }

    static byte[] md5(byte[] bytes) {
        try {
            return MessageDigest.getInstance("MD5").digest(bytes);
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

    static String hex(byte[] bytes) {
        return HexFormat.of().formatHex(bytes);
    }
}
