// Reads one SNS message (JSON) on standard input and prints "valid" or the validator's error.
// The certificate's host must match the pattern given as the first argument (AWS's is
// sns.<region>.amazonaws.com); it is fetched over HTTPS, trusted through NODE_EXTRA_CA_CERTS.
const MessageValidator = require("sns-validator");

const validator = new MessageValidator(new RegExp(process.argv[2]));
let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  validator.validate(input, (error) => {
    console.log(error ? `invalid: ${error.message}` : "valid");
  });
});
