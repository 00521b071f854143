// Validate AsyncAPI documents with AsyncAPI's official parser; exit 1 on any error or warning.
import { readFileSync } from "node:fs";
import { Parser } from "@asyncapi/parser";

const SEVERITY = ["error", "warning", "info", "hint"];
const parser = new Parser();
let failed = false;
for (const path of process.argv.slice(2)) {
  const { document, diagnostics } = await parser.parse(readFileSync(path, "utf8"), { source: path });
  for (const d of diagnostics) {
    const where = (d.path || []).join(".");
    console.error(`${path}: ${SEVERITY[d.severity] ?? d.severity}: ${d.code}: ${d.message} (${where})`);
    if (d.severity <= 1) failed = true;
  }
  if (document === undefined) failed = true;
  else console.log(`${path}: valid AsyncAPI ${document.version()}`);
}
process.exit(failed ? 1 : 0);
