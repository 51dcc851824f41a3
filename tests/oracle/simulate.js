// Reads one iam-simulate Simulation per line (JSON) on stdin and writes one answer per line:
// {"result": "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied"} or {"error": ...}.
const readline = require('node:readline')
const { runSimulation } = require('@cloud-copilot/iam-simulate')

async function main() {
  for await (const line of readline.createInterface({ input: process.stdin })) {
    let answer
    try {
      const outcome = await runSimulation(JSON.parse(line), {})
      answer = outcome.resultType === 'error' ? { error: outcome.errors } : { result: outcome.overallResult }
    } catch (error) {
      answer = { error: String(error) }
    }
    process.stdout.write(JSON.stringify(answer) + '\n')
  }
}

main()
