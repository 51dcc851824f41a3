package nimbus.spark;

import java.io.File;
import java.io.FileNotFoundException;
import java.io.FileOutputStream;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;
import java.util.stream.Stream;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.fs.permission.FsPermission;
import org.apache.hadoop.util.Progressable;

/**
 * s3://, s3a:// and s3n:// paths of Nimbus S3, read and written in place: an object is the plain file
 * {@code <fs.nimbus.root>/<bucket>/<key>}, so this is the local file system with each bucket's folder
 * as the root of its URI. Objects Nimbus keeps aside instead (keys no path can hold, such as "a" beside
 * "a/b"; SSE-C objects; older versions) are not in that view. Every path it has written (when the file is closed), renamed or deleted is
 * appended to the journal file {@code fs.nimbus.journal} (one "bucket/key" a line), from which Nimbus
 * records those objects while the step runs.
 *
 * <p>Where Nimbus sets {@code fs.nimbus.authorization.endpoint} (a step of a cluster whose JobFlowRole
 * has a role), each open, create, rename, delete and listing is first authorized as the role, as S3
 * would authorize the call of the same kind ({@link NimbusObjectAccess}): s3:GetObject to open,
 * s3:PutObject to create or append, s3:DeleteObject to delete (each object of a folder), s3:ListBucket
 * with s3:prefix to list, and a rename as s3:GetObject and s3:DeleteObject of each source object and
 * s3:PutObject of its target. A file's status (exists, size, time) is not asked about.
 */
public class NimbusObjectFileSystem extends RawLocalFileSystem {
    private URI uri;
    private File bucketFolder;
    private String journal;
    private NimbusObjectAccess access; // null: the platform's rights, nobody asked

    @Override
    public void initialize(URI name, Configuration conf) throws IOException {
        super.initialize(name, conf);
        String root = conf.get("fs.nimbus.root");
        if (root == null) {
            throw new IOException("fs.nimbus.root is not set: Nimbus sets it for the steps it runs");
        }
        uri = URI.create(name.getScheme() + "://" + name.getAuthority());
        bucketFolder = new File(root, name.getAuthority());
        // a bucket is its folder: writing into a missing one must not make a bucket S3 never created;
        // no bucket name starts with "." (Nimbus's own folders beside the buckets: temp files, multipart
        // parts, the blobs of older versions and of keys no path can hold)
        if (name.getAuthority().startsWith(".") || !bucketFolder.isDirectory()) {
            throw new FileNotFoundException("NoSuchBucket: the bucket " + name.getAuthority() + " does not exist");
        }
        journal = conf.get("fs.nimbus.journal");
        access = NimbusObjectAccess.of(conf);
        setWorkingDirectory(new Path(uri + "/"));
    }

    @Override
    public URI getUri() {
        return uri;
    }

    @Override
    public File pathToFile(Path path) {
        checkPath(path);
        Path absolute = path.isAbsolute() ? path : new Path(getWorkingDirectory(), path);
        return new File(bucketFolder, absolute.toUri().getPath());
    }

    @Override
    protected Path getInitialWorkingDirectory() {
        return new Path(uri + "/");
    }

    @Override
    public Path getHomeDirectory() {
        return new Path(uri + "/");
    }

    @Override
    public FileStatus getFileStatus(Path path) throws IOException {
        return inBucket(super.getFileStatus(path));
    }

    @Override
    public FileStatus getFileLinkStatus(Path path) throws IOException {
        return inBucket(super.getFileLinkStatus(path));
    }

    @Override
    public FileStatus[] listStatus(Path path) throws IOException {
        if (access != null) {
            String key = key(path);
            access.checkListing(uri.getAuthority(), key.isEmpty() || isFolder(path) ? folderPrefix(key) : key,
                    path.toString());
        }
        FileStatus[] statuses = super.listStatus(path);
        for (FileStatus status : statuses) {
            inBucket(status);
        }
        return statuses;
    }

    @Override
    public FSDataInputStream open(Path path, int bufferSize) throws IOException {
        checkObject("GetObject", path);
        return super.open(path, bufferSize);
    }

    @Override
    public FSDataOutputStream create(Path path, FsPermission permission, boolean overwrite, int bufferSize,
            short replication, long blockSize, Progressable progress) throws IOException {
        checkObject("PutObject", path);
        return journaled(path,
                super.create(path, permission, overwrite, bufferSize, replication, blockSize, progress));
    }

    @Override
    public FSDataOutputStream create(Path path, boolean overwrite, int bufferSize, short replication,
            long blockSize, Progressable progress) throws IOException {
        checkObject("PutObject", path);
        return journaled(path, super.create(path, overwrite, bufferSize, replication, blockSize, progress));
    }

    @Override
    public FSDataOutputStream createNonRecursive(Path path, FsPermission permission, boolean overwrite,
            int bufferSize, short replication, long blockSize, Progressable progress) throws IOException {
        checkObject("PutObject", path);
        return journaled(path, super.createNonRecursive(
                path, permission, overwrite, bufferSize, replication, blockSize, progress));
    }

    @Override
    public FSDataOutputStream append(Path path, int bufferSize, Progressable progress) throws IOException {
        checkObject("PutObject", path);
        return journaled(path, super.append(path, bufferSize, progress));
    }

    @Override
    public boolean rename(Path source, Path target) throws IOException {
        if (access != null) {
            // into an existing folder, as Hadoop renames: the source keeps its name there
            Path to = isFolder(target) ? new Path(target, source.getName()) : target;
            String from = key(source);
            String into = key(to);
            for (String moved : objects(source)) {
                Path file = objectPath(moved);
                checkObject("GetObject", file);
                checkObject("DeleteObject", file);
                checkObject("PutObject", objectPath(into + moved.substring(from.length())));
            }
        }
        boolean renamed = super.rename(source, target);
        record(source);
        record(target);
        return renamed;
    }

    @Override
    public boolean delete(Path path, boolean recursive) throws IOException {
        if (access != null) {
            for (String deleted : objects(path)) {
                checkObject("DeleteObject", objectPath(deleted));
            }
        }
        boolean deleted = super.delete(path, recursive);
        record(path);
        return deleted;
    }

    private void checkObject(String action, Path path) throws IOException {
        if (access != null) {
            access.checkObject(action, uri.getAuthority(), key(path), path.toString());
        }
    }

    /** The keys of the objects at {@code path}: the file's, or those under the folder (listed as the role). */
    private List<String> objects(Path path) throws IOException {
        File file = pathToFile(path);
        String key = key(path);
        if (!file.isDirectory()) {
            return file.exists() ? List.of(key) : List.of();
        }
        access.checkListing(uri.getAuthority(), folderPrefix(key), path.toString());
        String folder = bucketFolder.getAbsolutePath() + "/";
        try (Stream<java.nio.file.Path> found = Files.walk(file.toPath())) {
            return found.filter(Files::isRegularFile)
                    .map(each -> each.toAbsolutePath().toString().substring(folder.length())).toList();
        }
    }

    private boolean isFolder(Path path) {
        return pathToFile(path).isDirectory();
    }

    /** The object key a path names (no leading slash; "" for the bucket). */
    private String key(Path path) {
        Path absolute = path.isAbsolute() ? path : new Path(getWorkingDirectory(), path);
        return absolute.toUri().getPath().replaceFirst("^/+", "");
    }

    /** The path of the object {@code key} in this bucket (any characters: not parsed as a URI). */
    private Path objectPath(String key) {
        return new Path(uri.getScheme(), uri.getAuthority(), "/" + key);
    }

    private static String folderPrefix(String key) {
        return key.isEmpty() ? "" : key + "/";
    }

    /** A status of the local file system names the file's local path: name it in the bucket instead. */
    private FileStatus inBucket(FileStatus status) {
        String local = status.getPath().toUri().getPath();
        String folder = bucketFolder.getAbsolutePath();
        if (local.startsWith(folder + "/") || local.equals(folder)) {
            String key = local.substring(folder.length());
            status.setPath(new Path(uri + (key.isEmpty() ? "/" : key)));
        }
        return status;
    }

    /** A file is recorded once it is complete, when its stream closes: S3 shows no half-written object. */
    private FSDataOutputStream journaled(Path path, FSDataOutputStream written) throws IOException {
        return new FSDataOutputStream(written, null, written.getPos()) {
            private boolean closed;

            @Override
            public void close() throws IOException {
                super.close();
                if (!closed) {
                    closed = true;
                    record(path);
                }
            }
        };
    }

    private void record(Path path) throws IOException {
        if (journal == null) {
            return;
        }
        Path absolute = path.isAbsolute() ? path : new Path(getWorkingDirectory(), path);
        String line = uri.getAuthority() + absolute.toUri().getPath() + "\n";
        // one write of one short line to a file opened for appending: lines of concurrent JVMs never mix
        try (FileOutputStream out = new FileOutputStream(journal, true)) {
            out.write(line.getBytes(StandardCharsets.UTF_8));
        }
    }
}
