// Test-only: runs Lex V2 conversations with the AWS SDK for JavaScript v3 (which speaks HTTP/2 to
// the endpoint) as tests/e2e/test_lex_start_conversation.py plans them on stdin, and prints every
// event the bot sends as one JSON line (audio chunks as their length in bytes).
"use strict";
const fs = require("node:fs");
const {
  LexRuntimeV2Client,
  RecognizeTextCommand,
  StartConversationCommand,
} = require("@aws-sdk/client-lex-runtime-v2");

const print = (line) => process.stdout.write(JSON.stringify(line) + "\n");

async function converse(client, bot, conversation) {
  let results = 0; // IntentResultEvents received so far: a turn waits for its own
  const waiters = [];
  const until = (count) =>
    results >= count ? Promise.resolve() : new Promise((resolve) => waiters.push([count, resolve]));
  async function* input() {
    yield { ConfigurationEvent: conversation.configuration };
    let expected = 0;
    for (const turn of conversation.turns) {
      for (const event of turn.events || []) {
        if (event.audioFile) {
          const pcm = fs.readFileSync(event.audioFile.path);
          for (let start = 0; start < pcm.length; start += event.audioFile.chunkBytes) {
            yield {
              AudioInputEvent: {
                audioChunk: pcm.subarray(start, start + event.audioFile.chunkBytes),
                contentType: event.audioFile.contentType,
              },
            };
          }
        } else if (event.AudioInputEvent) {
          yield { AudioInputEvent: { ...event.AudioInputEvent, audioChunk: Uint8Array.from(event.AudioInputEvent.audioChunk) } };
        } else {
          yield event;
        }
      }
      if (turn.pauseMs) await new Promise((resolve) => setTimeout(resolve, turn.pauseMs));
      if (turn.awaitResult) {
        expected += 1;
        await until(expected);
      }
    }
  }
  try {
    const response = await client.send(
      new StartConversationCommand({
        ...bot,
        sessionId: conversation.sessionId,
        conversationMode: conversation.mode,
        requestEventStream: input(),
      }),
    );
    for await (const event of response.responseEventStream) {
      const [name] = Object.keys(event);
      const body = { ...event[name] };
      if (body.audioChunk) body.audioChunk = body.audioChunk.length;
      print({ [name]: body });
      if (name === "IntentResultEvent") {
        results += 1;
        for (const [count, resolve] of waiters) if (results >= count) resolve();
      }
    }
    print({ end: true });
  } catch (error) {
    print({ error: { name: error.name, message: error.message, status: error.$metadata?.httpStatusCode } });
  }
}

async function main() {
  const plan = JSON.parse(fs.readFileSync(0, "utf8"));
  const client = new LexRuntimeV2Client({
    endpoint: plan.endpoint,
    region: plan.region,
    credentials: plan.credentials,
  });
  if (plan.recognizeText) {
    const reply = await client.send(new RecognizeTextCommand({ ...plan.bot, ...plan.recognizeText }));
    print({ RecognizeText: { sessionState: reply.sessionState, messages: reply.messages } });
  }
  for (const conversation of plan.conversations) {
    await converse(client, { ...plan.bot, ...conversation.bot }, conversation);
  }
  client.destroy();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
