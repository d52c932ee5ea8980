// Prints the X-Hub-Signature-256 value that GitHub's own library computes:
//   node octokit_sign.mjs SECRET PAYLOAD   ->   sha256=<hex>
// The payload is taken as the exact UTF-8 text of the webhook body.
import { sign } from "@octokit/webhooks-methods";

const [secret, payload] = process.argv.slice(2);
if (secret === undefined || payload === undefined) {
  console.error("usage: node octokit_sign.mjs SECRET PAYLOAD");
  process.exit(2);
}
process.stdout.write((await sign(secret, payload)) + "\n");
