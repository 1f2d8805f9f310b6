package score

import (
	"reflect"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/exec"
)

// TestIteratorsAndEmittersRegistered checks that every iterator and emitter
// parameter of the package's DoFns and functions has a generated maker
// registered in init, so Beam never falls back to reflection for them (it
// did for func(*Prediction) bool while init registered Iter1[*Prediction],
// i.e. func(**Prediction) bool).
func TestIteratorsAndEmittersRegistered(t *testing.T) {
	fns := map[string]reflect.Type{
		"SplitWindowsFn": reflect.TypeOf(SplitWindowsFn),
		"StitchFn":       reflect.TypeOf(StitchFn),
	}
	for _, dofn := range []any{&ReadShardFn{}, &ScoreFn{}, &WritePredictionsFn{}, &WriteMetricsFn{}} {
		for _, name := range []string{"ProcessElement", "FinishBundle"} {
			if m, ok := reflect.TypeOf(dofn).MethodByName(name); ok {
				fns[reflect.TypeOf(dofn).Elem().Name()+"."+name] = m.Type
			}
		}
	}
	checked := 0
	for name, ft := range fns {
		for i := 0; i < ft.NumIn(); i++ {
			p := ft.In(i)
			if p.Kind() != reflect.Func {
				continue
			}
			checked++
			isIter := p.NumOut() == 1 && p.Out(0).Kind() == reflect.Bool && p.NumIn() > 0 && p.In(0).Kind() == reflect.Pointer
			switch {
			case isIter && !exec.IsInputRegistered(p):
				t.Errorf("%s: iterator %v is not registered (register.Iter%d in init)", name, p, p.NumIn())
			case !isIter && !exec.IsEmitterRegistered(p):
				t.Errorf("%s: emitter %v is not registered (register.Emitter%d in init)", name, p, p.NumIn())
			}
		}
	}
	if checked < 6 {
		t.Fatalf("checked only %d iterator/emitter parameters; the list of DoFns is stale", checked)
	}
}
