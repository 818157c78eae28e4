// Generates src/schema.ts (the API's types) from the OpenAPI description the API serves, so the
// client's types cannot drift from the API. The description comes from AUTHYY_OPENAPI (a file)
// if set, else from the Rust workspace: `cargo run -p authyy --example openapi`. The build also
// fails if this package's version is not the API's (info.version).
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import openapiTS, { astToString } from "openapi-typescript";

const here = dirname(dirname(fileURLToPath(import.meta.url)));
const workspace = join(here, "..", "..");

const text = process.env.AUTHYY_OPENAPI
  ? readFileSync(process.env.AUTHYY_OPENAPI, "utf8")
  : execFileSync("cargo", ["run", "--quiet", "-p", "authyy", "--example", "openapi"], {
      cwd: workspace,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    });
const doc = JSON.parse(text);

const pkg = JSON.parse(readFileSync(join(here, "package.json"), "utf8"));
if (pkg.version !== doc.info.version) {
  console.error(
    `clients/js/package.json is version ${pkg.version} but the API is ${doc.info.version}: ` +
      "release them together (set the package version to the API's)",
  );
  process.exit(1);
}

writeFileSync(join(here, "openapi.json"), JSON.stringify(doc, null, 2));
const ast = await openapiTS(doc);
const header =
  "// Generated from the API's OpenAPI description by scripts/generate.mjs. Do not edit.\n" +
  `// API version ${doc.info.version}.\n`;
writeFileSync(join(here, "src", "schema.ts"), header + astToString(ast));
console.error(`generated src/schema.ts from the OpenAPI description (API ${doc.info.version})`);
