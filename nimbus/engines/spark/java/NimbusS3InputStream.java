package nimbus.spark;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.util.Map;

import org.apache.hadoop.fs.FSInputStream;
import org.apache.hadoop.fs.FileSystem;

/**
 * An object read over HTTP: one GetObject from the current position to the end (with Range past the
 * start), read as far as the reader goes. A seek forward of up to {@link #SKIP_LIMIT} bytes reads on;
 * any other seek drops the answer and the next read asks again from there.
 */
final class NimbusS3InputStream extends FSInputStream {
    static final long SKIP_LIMIT = 256 * 1024;

    private final NimbusS3Client s3;
    private final String bucket;
    private final String key;
    private final String path;
    private final long length;
    private final FileSystem.Statistics statistics;
    private InputStream body; // null: not asked yet since the last seek
    private long position;
    private boolean closed;

    NimbusS3InputStream(NimbusS3Client s3, String bucket, String key, String path, long length,
            FileSystem.Statistics statistics) {
        this.s3 = s3;
        this.bucket = bucket;
        this.key = key;
        this.path = path;
        this.length = length;
        this.statistics = statistics;
    }

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        return read(one, 0, 1) == -1 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] buffer, int offset, int count) throws IOException {
        if (closed) {
            throw new IOException(path + ": the stream is closed");
        }
        if (count == 0) {
            return 0;
        }
        if (position >= length) {
            return -1;
        }
        if (body == null) {
            Map<String, String> range = position == 0 ? Map.of() : Map.of("Range", "bytes=" + position + "-");
            body = s3.stream(new NimbusS3Client.Call("GET", bucket, key, Map.of(), range, null), path).body();
        }
        int read = body.read(buffer, offset, count);
        if (read < 0) {
            throw new EOFException(path + ": the object ended at byte " + position + " of " + length
                    + " (changed while it was read?)");
        }
        position += read;
        if (statistics != null) {
            statistics.incrementBytesRead(read);
        }
        return read;
    }

    @Override
    public void seek(long target) throws IOException {
        if (target < 0 || target > length) {
            throw new EOFException(path + ": cannot seek to " + target + " in an object of " + length + " bytes");
        }
        if (body != null && target >= position && target - position <= SKIP_LIMIT) {
            body.skipNBytes(target - position);
        } else if (target != position) {
            dropBody();
        }
        position = target;
    }

    @Override
    public long getPos() {
        return position;
    }

    @Override
    public boolean seekToNewSource(long target) {
        return false;
    }

    @Override
    public int available() {
        return (int) Math.min(Integer.MAX_VALUE, length - position);
    }

    @Override
    public void close() throws IOException {
        closed = true;
        dropBody();
    }

    private void dropBody() throws IOException {
        if (body != null) {
            InputStream dropped = body;
            body = null;
            dropped.close();
        }
    }
}
