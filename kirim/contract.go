package kirim

import _ "embed"

// Contract is the OpenAPI 3.1 document of the Kirim API as the portal knows it. The
// client and the sandbox are both tested against it.
//
//go:embed openapi.json
var Contract []byte
