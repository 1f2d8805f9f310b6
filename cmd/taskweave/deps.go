package main

// Modules the project depends on but whose users are still being written;
// keeps `go mod tidy` from dropping them. Remove an import once a package uses it.
import (
	_ "cloud.google.com/go/storage"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/gcs"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/x/beamx"
	_ "github.com/fsouza/fake-gcs-server/fakestorage"
	_ "github.com/go-co-op/gocron/v2"
	_ "github.com/goccy/go-yaml"
	_ "github.com/parquet-go/parquet-go"
	_ "github.com/robfig/cron/v3"
	_ "github.com/schollz/progressbar/v3"
	_ "golang.org/x/text/unicode/norm"
	_ "gonum.org/v1/gonum/blas/blas32"
	_ "gonum.org/v1/plot"
)
