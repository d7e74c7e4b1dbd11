#!/usr/bin/python3
"""Writes scikit-learn's breast-cancer and wine tables as CSVs for tlpipe, and a baseline.

For each table: <name>-train.csv and <name>-test.csv in test/fixtures/tables/
(a stratified split, 75 % / 25 %, random_state 0), with a header of feature
columns (sklearn's names, spaces as underscores) and a `label` column holding
the class name. Then it prints the test accuracy of a plain logistic
regression (features standardised with the training rows' mean and std,
sklearn's defaults otherwise, max_iter raised so it converges) on that split:
the number tlpipe's `evaluate --data <name>-test.csv` is set beside.

Needs scikit-learn (Debian: python3-sklearn, run with /usr/bin/python3).
The CSVs are committed, so tests need neither Python nor scikit-learn.
"""
import csv
import os
import sys

from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'tables')
TEST_SIZE = 0.25
SEED = 0
TABLES = {'breast-cancer': load_breast_cancer, 'wine': load_wine}


def write(path, columns, x, labels):
    with open(path, 'w', newline='') as f:
        out = csv.writer(f, lineterminator='\n')
        out.writerow([*columns, 'label'])
        for row, label in zip(x, labels):
            out.writerow([*(repr(float(v)) for v in row), label])


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, load in TABLES.items():
        table = load()
        columns = [c.replace(' ', '_') for c in table.feature_names]
        labels = [str(table.target_names[t]) for t in table.target]
        x_train, x_test, y_train, y_test = train_test_split(
            table.data, labels, test_size=TEST_SIZE, stratify=labels, random_state=SEED
        )
        write(os.path.join(OUT, f'{name}-train.csv'), columns, x_train, y_train)
        write(os.path.join(OUT, f'{name}-test.csv'), columns, x_test, y_test)
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=10_000))
        model.fit(x_train, y_train)
        accuracy = model.score(x_test, y_test)
        print(
            f'{name}: {len(columns)} feature columns, {len(table.target_names)} classes, '
            f'{len(y_train)} train / {len(y_test)} test rows (stratified, random_state {SEED}); '
            f'logistic regression test accuracy {accuracy:.4f}'
        )
    return 0


if __name__ == '__main__':
    sys.exit(main())
