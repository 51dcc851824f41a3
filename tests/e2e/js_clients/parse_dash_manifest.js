// Reads a DASH manifest on standard input (fetched from the URL given as the first argument) and
// prints, as JSON, the media segments of its first video playlist as video.js's parser resolves
// them: the initialization segment's URL, then each segment's URL, start time and duration.
const mpdParser = require("mpd-parser");

const manifestUri = process.argv[2];
let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const parsed = mpdParser.parse(input, {
    manifestUri,
    eventHandler: ({ type, message }) => console.error(`${type}: ${message}`),
  });
  const [playlist] = parsed.playlists;
  const segments = playlist.segments.map((segment) => ({
    uri: segment.resolvedUri,
    start: segment.presentationTime,
    duration: segment.duration,
  }));
  console.log(
    JSON.stringify({
      codecs: playlist.attributes.CODECS,
      initialization: playlist.segments[0].map.resolvedUri,
      segments,
    }),
  );
});
