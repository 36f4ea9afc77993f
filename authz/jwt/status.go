package jwt

// status is one outcome of verifying a token. The texts are Envoy's (jwt_verify_lib's
// getStatusString), byte for byte, because users and their tests read them from the 401 body.
type status uint8

const (
	statusOK status = iota
	statusBadFormat
	statusHeaderBadBase64
	statusHeaderBadJSON
	statusHeaderBadAlg
	statusHeaderNotImplementedAlg
	statusHeaderBadKid
	statusPayloadBadBase64
	statusPayloadBadJSON
	statusIssNotString
	statusSubNotString
	statusIatNotInteger
	statusIatOutOfRange
	statusNbfNotInteger
	statusNbfOutOfRange
	statusExpNotInteger
	statusExpOutOfRange
	statusJtiNotString
	statusAudNotString
	statusSignatureBadBase64
	statusEd25519SignatureWrongLength
	statusUnknownIssuer
	statusAudienceNotAllowed
	statusVerificationFail
	statusMultipleTokens
	statusNotYetValid
	statusExpired
	statusJwksNoValidKeys
	statusJwksKidAlgMismatch
	statusJwksFetchFail
)

var statusText = [...]string{
	statusOK:                          "OK",
	statusBadFormat:                   "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections",
	statusHeaderBadBase64:             "Jwt header is an invalid Base64url encoded",
	statusHeaderBadJSON:               "Jwt header is an invalid JSON",
	statusHeaderBadAlg:                "Jwt header [alg] field is required and must be a string",
	statusHeaderNotImplementedAlg:     "Jwt header [alg] is not supported",
	statusHeaderBadKid:                "Jwt header [kid] field is not a string",
	statusPayloadBadBase64:            "Jwt payload is an invalid Base64url encoded",
	statusPayloadBadJSON:              "Jwt payload is an invalid JSON",
	statusIssNotString:                "Jwt payload [iss] field is not a string",
	statusSubNotString:                "Jwt payload [sub] field is not a string",
	statusIatNotInteger:               "Jwt payload [iat] field is not an integer",
	statusIatOutOfRange:               "Jwt payload [iat] field is not a positive 64 bit integer",
	statusNbfNotInteger:               "Jwt payload [nbf] field is not an integer",
	statusNbfOutOfRange:               "Jwt payload [nbf] field is not a positive 64 bit integer",
	statusExpNotInteger:               "Jwt payload [exp] field is not an integer",
	statusExpOutOfRange:               "Jwt payload [exp] field is not a positive 64 bit integer",
	statusJtiNotString:                "Jwt payload [jti] field is not a string",
	statusAudNotString:                "Jwt payload [aud] field is not a string or string list",
	statusSignatureBadBase64:          "Jwt signature is an invalid Base64url encoded",
	statusEd25519SignatureWrongLength: "Jwt ED25519 signature is wrong length",
	statusUnknownIssuer:               "Jwt issuer is not configured",
	statusAudienceNotAllowed:          "Audiences in Jwt are not allowed",
	statusVerificationFail:            "Jwt verification fails",
	statusMultipleTokens:              "Found multiple Jwt tokens",
	statusNotYetValid:                 "Jwt not yet valid",
	statusExpired:                     "Jwt is expired",
	statusJwksNoValidKeys:             "Jwks doesn't have any valid public key",
	statusJwksKidAlgMismatch:          "Jwks doesn't have key to match kid or alg from Jwt",
	statusJwksFetchFail:               "Jwks remote fetch is failed",
}

func (s status) String() string { return statusText[s] }
