package nimbus.spark;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.BufferedFSInputStream;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileAlreadyExistsException;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.PathIsNotEmptyDirectoryException;
import org.apache.hadoop.fs.permission.FsPermission;
import org.apache.hadoop.util.Progressable;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

import nimbus.spark.NimbusS3Client.Call;

/**
 * s3://, s3a:// and s3n:// paths of Nimbus S3 over its HTTP API, as the step's role
 * ({@link NimbusS3Client}), so every access is one S3 call that Nimbus authorizes as any other, as
 * S3A makes them: open is HeadObject then GetObject (with Range after a seek), create a PutObject or a
 * multipart upload when the stream closes, listStatus ListObjectsV2 with delimiter "/", getFileStatus
 * HeadObject and, for a folder (a prefix), a one-key listing of {@code <key>/}, delete DeleteObject or
 * DeleteObjects of each object under a folder, rename CopyObject and DeleteObject of each object, and
 * mkdirs an empty marker object {@code <key>/} where no folder is yet. Append is not supported (S3
 * has none).
 */
public class NimbusS3FileSystem extends FileSystem {
    private static final int MAX_DELETE_KEYS = 1000;
    private static final long DEFAULT_BLOCK_SIZE = 32L * 1024 * 1024;

    private URI uri;
    private String bucket;
    private Path workingDirectory;
    private long blockSize;
    private NimbusS3Client s3;
    private final Set<NimbusS3OutputStream> open = ConcurrentHashMap.newKeySet();

    /** An object or common prefix of a listing. */
    private record Entry(String key, long size, long modified, boolean folder) {
    }

    @Override
    public void initialize(URI name, Configuration conf) throws IOException {
        super.initialize(name, conf);
        uri = URI.create(name.getScheme() + "://" + name.getAuthority());
        bucket = name.getAuthority();
        workingDirectory = new Path(uri + "/");
        blockSize = conf.getLongBytes("fs.s3a.block.size", DEFAULT_BLOCK_SIZE);
        s3 = NimbusS3Client.of(conf);
    }

    @Override
    public String getScheme() {
        return uri == null ? "s3a" : uri.getScheme();
    }

    @Override
    public URI getUri() {
        return uri;
    }

    @Override
    public Path getWorkingDirectory() {
        return workingDirectory;
    }

    @Override
    public void setWorkingDirectory(Path directory) {
        workingDirectory = absolute(directory);
    }

    @Override
    public long getDefaultBlockSize(Path path) {
        return blockSize;
    }

    @Override
    public FSDataInputStream open(Path path, int bufferSize) throws IOException {
        FileStatus status = getFileStatus(path);
        if (status.isDirectory()) {
            throw new FileNotFoundException(path + " is a directory (a prefix), not an object");
        }
        return new FSDataInputStream(new BufferedFSInputStream(new NimbusS3InputStream(s3, bucket, key(path),
                path.toString(), status.getLen(), statistics), Math.max(bufferSize, 64 * 1024)));
    }

    @Override
    public FSDataOutputStream create(Path path, FsPermission permission, boolean overwrite, int bufferSize,
            short replication, long blockSize, Progressable progress) throws IOException {
        String key = key(path);
        if (key.isEmpty()) {
            throw new FileAlreadyExistsException(path + " is the bucket");
        }
        FileStatus existing = statusOrNull(path);
        if (existing != null && (existing.isDirectory() || !overwrite)) {
            throw new FileAlreadyExistsException(path + (existing.isDirectory() ? " is a directory" : " exists"));
        }
        NimbusS3OutputStream[] stream = new NimbusS3OutputStream[1];
        stream[0] = new NimbusS3OutputStream(s3, bucket, key, path.toString(), statistics,
                () -> open.remove(stream[0]));
        open.add(stream[0]);
        return new FSDataOutputStream(stream[0], null);
    }

    @Override
    public FSDataOutputStream createNonRecursive(Path path, FsPermission permission, boolean overwrite,
            int bufferSize, short replication, long blockSize, Progressable progress) throws IOException {
        return create(path, permission, overwrite, bufferSize, replication, blockSize, progress);
    }

    @Override
    public FSDataOutputStream append(Path path, int bufferSize, Progressable progress) {
        throw new UnsupportedOperationException("Append is not supported by S3 (" + path + ")");
    }

    @Override
    public boolean rename(Path source, Path target) throws IOException {
        String from = key(source);
        FileStatus moved = statusOrNull(source);
        if (from.isEmpty() || moved == null) {
            return false;
        }
        FileStatus existing = statusOrNull(target);
        if (existing != null && existing.isFile()) {
            return false; // as HDFS: a rename never replaces a file
        }
        // into an existing folder, as Hadoop renames: the source keeps its name there
        String into = existing != null ? join(key(target), source.getName()) : key(target);
        if (into.equals(from) || into.startsWith(from + "/")) {
            return into.equals(from);
        }
        if (moved.isFile()) {
            copy(from, into, source);
            deleteKeys(List.of(from), source);
            return true;
        }
        List<String> keys = new ArrayList<>();
        for (Entry entry : list(from + "/", false, source)) {
            copy(entry.key(), into + "/" + entry.key().substring(from.length() + 1), source);
            keys.add(entry.key());
        }
        deleteKeys(keys, source);
        return true;
    }

    @Override
    public boolean delete(Path path, boolean recursive) throws IOException {
        String key = key(path);
        FileStatus status = statusOrNull(path);
        if (key.isEmpty() || status == null) {
            return false; // S3A refuses to delete a bucket's root too
        }
        if (status.isFile()) {
            deleteKeys(List.of(key), path);
            return true;
        }
        List<String> keys = new ArrayList<>();
        for (Entry entry : list(key + "/", false, path)) {
            keys.add(entry.key());
        }
        if (!recursive && keys.stream().anyMatch(each -> !each.equals(key + "/"))) {
            throw new PathIsNotEmptyDirectoryException(path.toString());
        }
        deleteKeys(keys, path);
        return true;
    }

    @Override
    public FileStatus[] listStatus(Path path) throws IOException {
        String key = key(path);
        String prefix = key.isEmpty() ? "" : key + "/";
        List<Entry> entries = list(prefix, true, path);
        List<FileStatus> statuses = new ArrayList<>();
        boolean marker = false;
        for (Entry entry : entries) {
            if (entry.key().equals(prefix)) {
                marker = true;
            } else {
                statuses.add(status(entry));
            }
        }
        if (statuses.isEmpty() && !marker && !key.isEmpty()) {
            FileStatus status = getFileStatus(path); // a file lists as itself; nothing at all is not found
            return status.isFile() ? new FileStatus[] {status} : new FileStatus[0];
        }
        return statuses.toArray(new FileStatus[0]);
    }

    @Override
    public boolean mkdirs(Path path, FsPermission permission) throws IOException {
        String key = key(path);
        FileStatus existing = key.isEmpty() ? null : statusOrNull(path);
        if (key.isEmpty() || (existing != null && existing.isDirectory())) {
            return true;
        }
        if (existing != null) {
            throw new FileAlreadyExistsException(path + " is a file");
        }
        s3.call(new Call("PUT", bucket, key + "/", Map.of(), Map.of(), new byte[0]), path.toString());
        return true;
    }

    @Override
    public FileStatus getFileStatus(Path path) throws IOException {
        String key = key(path);
        Path qualified = objectPath(key);
        if (key.isEmpty()) {
            return new FileStatus(0, true, 1, 0, 0, qualified);
        }
        HttpResponse<InputStream> head = s3.head(bucket, key, path.toString());
        int status = head.statusCode();
        if (status == 200) {
            long length = head.headers().firstValueAsLong("Content-Length").orElse(0);
            long modified = head.headers().firstValue("Last-Modified")
                    .map(date -> ZonedDateTime.parse(date, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant()
                            .toEpochMilli()).orElse(0L);
            return new FileStatus(length, false, 1, blockSize, modified, qualified);
        }
        if (status != 403 && status != 404) {
            throw NimbusS3Client.failure(status, new byte[0], new Call("HEAD", bucket, key), path.toString());
        }
        // no object: a folder if any key starts with "<key>/" (the listing's refusal says why if not)
        if (!list(key + "/", true, path, 1).isEmpty()) {
            return new FileStatus(0, true, 1, 0, 0, qualified);
        }
        if (status == 404) {
            throw new FileNotFoundException(path + ": NoSuchKey: The specified key does not exist.");
        }
        // a HEAD's 403 has no body: a one-byte GET of the same object carries S3's message
        s3.call(new Call("GET", bucket, key, Map.of(), Map.of("Range", "bytes=0-0"), null), path.toString());
        throw new AccessDeniedException(path.toString(), null, "HeadObject was refused (403)");
    }

    @Override
    public void close() throws IOException {
        for (NimbusS3OutputStream stream : open) {
            stream.abort(); // a file whose task died before closing it never becomes an object
        }
        open.clear();
        super.close();
    }

    private FileStatus statusOrNull(Path path) throws IOException {
        try {
            return getFileStatus(path);
        } catch (FileNotFoundException missing) {
            return null;
        }
    }

    private FileStatus status(Entry entry) {
        Path path = objectPath(entry.key().replaceFirst("/$", ""));
        return entry.folder() ? new FileStatus(0, true, 1, 0, 0, path)
                : new FileStatus(entry.size(), false, 1, blockSize, entry.modified(), path);
    }

    private List<Entry> list(String prefix, boolean delimited, Path path) throws IOException {
        return list(prefix, delimited, path, Integer.MAX_VALUE);
    }

    /** ListObjectsV2 under {@code prefix}, page after page until {@code limit} entries. */
    private List<Entry> list(String prefix, boolean delimited, Path path, int limit) throws IOException {
        List<Entry> entries = new ArrayList<>();
        String token = null;
        do {
            Map<String, String> query = new HashMap<>(Map.of("list-type", "2", "prefix", prefix));
            if (delimited) {
                query.put("delimiter", "/");
            }
            if (limit < 1000) {
                query.put("max-keys", String.valueOf(limit));
            }
            if (token != null) {
                query.put("continuation-token", token);
            }
            Document page = NimbusS3Client.xml(s3.call(new Call("GET", bucket, "", query, Map.of(), null),
                    path.toString()));
            NodeList contents = page.getElementsByTagName("Contents");
            for (int index = 0; index < contents.getLength(); index++) {
                Element object = (Element) contents.item(index);
                entries.add(new Entry(child(object, "Key"), Long.parseLong(child(object, "Size")),
                        Instant.parse(child(object, "LastModified")).toEpochMilli(), false));
            }
            NodeList prefixes = page.getElementsByTagName("CommonPrefixes");
            for (int index = 0; index < prefixes.getLength(); index++) {
                entries.add(new Entry(child((Element) prefixes.item(index), "Prefix"), 0, 0, true));
            }
            token = "true".equals(NimbusS3Client.text(page, "IsTruncated"))
                    ? NimbusS3Client.text(page, "NextContinuationToken") : null;
        } while (token != null && entries.size() < limit);
        return entries;
    }

    private void copy(String from, String to, Path path) throws IOException {
        String source = "/" + bucket + "/" + NimbusS3Client.encode(from, true);
        s3.call(new Call("PUT", bucket, to, Map.of(), Map.of("x-amz-copy-source", source), null), path.toString());
    }

    /** DeleteObject of one key, DeleteObjects of more (a thousand a call); a refused key fails it. */
    private void deleteKeys(List<String> keys, Path path) throws IOException {
        if (keys.size() == 1) {
            s3.call(new Call("DELETE", bucket, keys.get(0)), path.toString());
            return;
        }
        for (int start = 0; start < keys.size(); start += MAX_DELETE_KEYS) {
            StringBuilder request = new StringBuilder("<Delete><Quiet>true</Quiet>");
            for (String key : keys.subList(start, Math.min(keys.size(), start + MAX_DELETE_KEYS))) {
                request.append("<Object><Key>").append(escape(key)).append("</Key></Object>");
            }
            byte[] body = request.append("</Delete>").toString().getBytes(StandardCharsets.UTF_8);
            Map<String, String> headers = Map.of("Content-MD5",
                    Base64.getEncoder().encodeToString(NimbusS3Client.md5(body)));
            Document answer = NimbusS3Client.xml(s3.call(new Call("POST", bucket, "", Map.of("delete", ""),
                    headers, body), path.toString()));
            NodeList errors = answer.getElementsByTagName("Error");
            if (errors.getLength() > 0) {
                Element error = (Element) errors.item(0);
                String failed = objectPath(child(error, "Key")).toString();
                String message = child(error, "Code") + ": " + child(error, "Message");
                throw "AccessDenied".equals(child(error, "Code"))
                        ? new AccessDeniedException(failed, null, message) : new IOException(failed + ": " + message);
            }
        }
    }

    private static String child(Element parent, String name) {
        NodeList found = parent.getElementsByTagName(name);
        return found.getLength() == 0 ? "" : found.item(0).getTextContent();
    }

    private static String escape(String text) {
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }

    private static String join(String folder, String name) {
        return folder.isEmpty() ? name : folder + "/" + name;
    }

    private Path absolute(Path path) {
        return path.isAbsolute() ? path : new Path(workingDirectory, path);
    }

    /** The object key a path names (no leading slash; "" for the bucket). */
    private String key(Path path) {
        checkPath(path);
        return absolute(path).toUri().getPath().replaceFirst("^/+", "");
    }

    /** The path of the object {@code key} in this bucket (any characters: not parsed as a URI). */
    private Path objectPath(String key) {
        return new Path(uri.getScheme(), uri.getAuthority(), "/" + key);
    }
}
