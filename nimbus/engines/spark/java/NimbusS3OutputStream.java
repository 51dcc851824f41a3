package nimbus.spark;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import org.apache.hadoop.fs.FileSystem;

import nimbus.spark.NimbusS3Client.Call;

/**
 * An object written over HTTP when its stream closes, as S3A writes: up to {@link #PART_SIZE} bytes
 * are one PutObject; more become a multipart upload whose parts go out as they fill, completed on
 * close. Until then no object exists; an upload that fails is aborted, so S3 never shows part of a
 * file, and one never closed (its task died) is aborted when the file system closes.
 */
final class NimbusS3OutputStream extends OutputStream {
    static final int PART_SIZE = 8 * 1024 * 1024;

    private final NimbusS3Client s3;
    private final String bucket;
    private final String key;
    private final String path;
    private final FileSystem.Statistics statistics;
    private final Runnable onClose;
    private final Buffer buffer = new Buffer();
    private final List<String> partTags = new ArrayList<>();
    private String uploadId; // null: one PutObject so far
    private boolean closed;

    /** A ByteArrayOutputStream whose bytes are sent without a copy. */
    private static final class Buffer extends ByteArrayOutputStream {
        byte[] bytes() {
            return count == buf.length ? buf : Arrays.copyOf(buf, count);
        }
    }

    NimbusS3OutputStream(NimbusS3Client s3, String bucket, String key, String path,
            FileSystem.Statistics statistics, Runnable onClose) {
        this.s3 = s3;
        this.bucket = bucket;
        this.key = key;
        this.path = path;
        this.statistics = statistics;
        this.onClose = onClose;
    }

    @Override
    public void write(int one) throws IOException {
        write(new byte[] {(byte) one}, 0, 1);
    }

    @Override
    public void write(byte[] bytes, int offset, int count) throws IOException {
        if (closed) {
            throw new IOException(path + ": the stream is closed");
        }
        if (statistics != null) {
            statistics.incrementBytesWritten(count);
        }
        while (count > 0) {
            int taken = Math.min(count, PART_SIZE - buffer.size());
            buffer.write(bytes, offset, taken);
            offset += taken;
            count -= taken;
            if (buffer.size() == PART_SIZE) {
                uploadPart();
            }
        }
    }

    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        try {
            if (uploadId == null) {
                s3.call(new Call("PUT", bucket, key, Map.of(), Map.of(), buffer.bytes()), path);
            } else {
                if (buffer.size() > 0) {
                    uploadPart();
                }
                complete();
            }
        } catch (IOException | RuntimeException failed) {
            abort();
            throw failed;
        } finally {
            buffer.reset();
            onClose.run();
        }
    }

    /** Called by the file system's close for a stream that was never closed: no object is made. */
    void abort() {
        closed = true;
        if (uploadId != null) {
            try {
                s3.call(new Call("DELETE", bucket, key, Map.of("uploadId", uploadId), Map.of(), null), path);
            } catch (IOException ignored) { // the upload stays incomplete, never an object
            }
            uploadId = null;
        }
    }

    private void uploadPart() throws IOException {
        if (uploadId == null) {
            byte[] created = s3.call(new Call("POST", bucket, key, Map.of("uploads", ""), Map.of(), null), path);
            uploadId = NimbusS3Client.text(NimbusS3Client.xml(created), "UploadId");
        }
        Map<String, String> query = Map.of("partNumber", String.valueOf(partTags.size() + 1), "uploadId", uploadId);
        HttpResponse<InputStream> answer = s3.stream(new Call("PUT", bucket, key, query, Map.of(), buffer.bytes()), path);
        answer.body().close();
        partTags.add(answer.headers().firstValue("ETag").orElseThrow(
                () -> new IOException(path + ": UploadPart answered no ETag")));
        buffer.reset();
    }

    private void complete() throws IOException {
        StringBuilder parts = new StringBuilder("<CompleteMultipartUpload>");
        for (int index = 0; index < partTags.size(); index++) {
            parts.append("<Part><PartNumber>").append(index + 1).append("</PartNumber><ETag>")
                    .append(partTags.get(index).replace("\"", "&quot;")).append("</ETag></Part>");
        }
        byte[] body = parts.append("</CompleteMultipartUpload>").toString().getBytes(StandardCharsets.UTF_8);
        s3.call(new Call("POST", bucket, key, Map.of("uploadId", uploadId), Map.of(), body), path);
        uploadId = null;
    }
}
