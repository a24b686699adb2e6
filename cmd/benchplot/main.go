// Command benchplot draws the latency of `make bench` (BenchmarkSagaVsCeiling's JSON,
// BENCH_OUT) as a PNG: p50 and p95 against concurrent clients, for the no-op ceiling, the
// dressed ceiling (the no-op workflow with an order's search attributes, memo and input) and
// the saga through the Temporal client and through the API, each point the median of the
// run's interleaved passes.
//
// Usage: benchplot -in .data/bench.json -out docs/bench/latency.png
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// results is the part of the bench's JSON this draws.
type results struct {
	Machine string
	Results map[string]map[string][]struct {
		Latencies []float64 `json:"latenciesMs"`
	}
}

func main() {
	in := flag.String("in", ".data/bench.json", "the bench's JSON results")
	out := flag.String("out", "docs/bench/latency.png", "the PNG to write")
	flag.Parse()
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "benchplot:", err)
		os.Exit(1)
	}
}

// series are the variants drawn, in the legend's order, with their colours.
var series = []struct {
	name  string
	color color.Color
}{
	{"ceiling", color.RGBA{R: 0x55, G: 0x55, B: 0x55, A: 0xff}},
	{"ceiling-dressed", color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}},
	{"ceiling-uws", color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff}},
	{"saga-client", color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}},
	{"saga-api", color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}},
}

func run(in, out string) error {
	data, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	var r results
	if err := json.Unmarshal(data, &r); err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	p := plot.New()
	p.Title.Text = "Order latency vs concurrent clients (median of passes)\n" + r.Machine
	p.X.Label.Text = "concurrent clients"
	p.Y.Label.Text = "latency, ms"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker = plot.ConstantTicks{{Value: 1, Label: "1"}, {Value: 8, Label: "8"}, {Value: 32, Label: "32"}}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top, p.Legend.Left = true, true
	for _, s := range series {
		levels := r.Results[s.name]
		if len(levels) == 0 {
			return fmt.Errorf("%s: no results for %s", in, s.name)
		}
		for _, q := range []struct {
			name string
			q    float64
			dash []vg.Length
		}{{"p50", .5, nil}, {"p95", .95, []vg.Length{vg.Points(4), vg.Points(3)}}} {
			pts := points(levels, q.q)
			line, scatter, err := plotter.NewLinePoints(pts)
			if err != nil {
				return err
			}
			line.Color, line.Dashes = s.color, q.dash
			scatter.Color, scatter.Shape = s.color, draw.CircleGlyph{}
			p.Add(line, scatter)
			p.Legend.Add(s.name+" "+q.name, line, scatter)
		}
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	return p.Save(9*vg.Inch, 6*vg.Inch, out)
}

// points are, per number of clients, the median over passes of the latency percentile q.
func points(levels map[string][]struct {
	Latencies []float64 `json:"latenciesMs"`
}, q float64) plotter.XYs {
	var clients []int
	for c := range levels {
		n, _ := strconv.Atoi(c)
		clients = append(clients, n)
	}
	sort.Ints(clients)
	var xys plotter.XYs
	for _, c := range clients {
		var perPass []float64
		for _, pass := range levels[strconv.Itoa(c)] {
			l := slices.Sorted(slices.Values(pass.Latencies))
			if len(l) > 0 {
				perPass = append(perPass, l[min(len(l)-1, int(q*float64(len(l))))])
			}
		}
		slices.Sort(perPass)
		if len(perPass) > 0 {
			xys = append(xys, plotter.XY{X: float64(c), Y: perPass[len(perPass)/2]})
		}
	}
	return xys
}
