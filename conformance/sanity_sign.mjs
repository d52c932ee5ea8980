// Signs (and re-verifies) a body with Sanity's own webhook toolkit:
//   node sanity_sign.mjs SECRET TIMESTAMP_MS PAYLOAD   ->   t=<ms>,v1=<base64url>
// The payload is the exact UTF-8 text of the webhook body.
import { encodeSignatureHeader, isValidSignature } from "@sanity/webhook";

const [secret, timestamp, payload] = process.argv.slice(2);
if (secret === undefined || timestamp === undefined || payload === undefined) {
  console.error("usage: node sanity_sign.mjs SECRET TIMESTAMP_MS PAYLOAD");
  process.exit(2);
}
const header = await encodeSignatureHeader(payload, Number(timestamp), secret);
if (!(await isValidSignature(payload, header, secret))) {
  console.error("the toolkit does not accept its own signature");
  process.exit(1);
}
process.stdout.write(header + "\n");
