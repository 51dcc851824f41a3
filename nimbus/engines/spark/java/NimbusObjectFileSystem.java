package nimbus.spark;

import java.io.File;
import java.io.FileNotFoundException;
import java.io.FileOutputStream;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;

import org.apache.hadoop.conf.Configuration;
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
 * <p>This is the fast path of clusters without a JobFlowRole, whose steps act with Nimbus's rights; a
 * cluster with one reads and writes over HTTP as its role instead ({@link NimbusS3FileSystem}).
 */
public class NimbusObjectFileSystem extends RawLocalFileSystem {
    private URI uri;
    private File bucketFolder;
    private String journal;

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
        FileStatus[] statuses = super.listStatus(path);
        for (FileStatus status : statuses) {
            inBucket(status);
        }
        return statuses;
    }

    @Override
    public FSDataOutputStream create(Path path, FsPermission permission, boolean overwrite, int bufferSize,
            short replication, long blockSize, Progressable progress) throws IOException {
        return journaled(path,
                super.create(path, permission, overwrite, bufferSize, replication, blockSize, progress));
    }

    @Override
    public FSDataOutputStream create(Path path, boolean overwrite, int bufferSize, short replication,
            long blockSize, Progressable progress) throws IOException {
        return journaled(path, super.create(path, overwrite, bufferSize, replication, blockSize, progress));
    }

    @Override
    public FSDataOutputStream createNonRecursive(Path path, FsPermission permission, boolean overwrite,
            int bufferSize, short replication, long blockSize, Progressable progress) throws IOException {
        return journaled(path, super.createNonRecursive(
                path, permission, overwrite, bufferSize, replication, blockSize, progress));
    }

    @Override
    public FSDataOutputStream append(Path path, int bufferSize, Progressable progress) throws IOException {
        return journaled(path, super.append(path, bufferSize, progress));
    }

    @Override
    public boolean rename(Path source, Path target) throws IOException {
        boolean renamed = super.rename(source, target);
        record(source);
        record(target);
        return renamed;
    }

    @Override
    public boolean delete(Path path, boolean recursive) throws IOException {
        boolean deleted = super.delete(path, recursive);
        record(path);
        return deleted;
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
