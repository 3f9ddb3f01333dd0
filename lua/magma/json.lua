-- magma.json: lossless, order-keeping JSON (the codec lives in the C core).
return require("magma.core").json
