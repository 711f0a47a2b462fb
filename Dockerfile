# The touchmetrics service: `touchmetrics serve` on 0.0.0.0:9480 (a token is required there).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY collector ./collector
COPY exporters ./exporters
COPY dashboards ./dashboards
RUN pip install --no-cache-dir .
ENV TOUCHMETRICS_HTTP_HOST=0.0.0.0
EXPOSE 9480
USER nobody
ENTRYPOINT ["touchmetrics"]
CMD ["serve"]
