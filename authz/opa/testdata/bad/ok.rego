package ok

allow := true
