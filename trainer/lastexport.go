package trainer

import "context"

// LastDir returns the directory of the run's last save under out (last/
// locally, the prefix last.json names on gs://), or "" when nothing was
// saved, for readers of the final model such as the pre-training stage's
// encoder export.
func LastDir(ctx context.Context, out string) (string, error) {
	s, err := openLast(ctx, out)
	if err != nil {
		return "", err
	}
	return s.dir(), nil
}
